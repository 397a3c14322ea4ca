/* Included before xfstests' fsx.c when it is built against musl (see
 * xtask/src/guest/native.rs): the headers glibc pulls in by the way, and preadv2/pwritev2,
 * which musl has no wrappers for, as the raw system calls. */
#include <assert.h>
#include <getopt.h>
#include <sys/param.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static inline ssize_t preadv2(int fd, const struct iovec *iov, int count, off_t offset, int flags)
{
	return syscall(SYS_preadv2, fd, iov, count, offset, 0, flags);
}

static inline ssize_t pwritev2(int fd, const struct iovec *iov, int count, off_t offset, int flags)
{
	return syscall(SYS_pwritev2, fd, iov, count, offset, 0, flags);
}
