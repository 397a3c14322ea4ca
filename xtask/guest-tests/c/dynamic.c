/*
 * dynamic: a dynamically linked program checks what the kernel's ELF loader gave it
 * (issue 14: dynamic ELF loading and what programs parse from /proc). Built by xtask
 * twice from this one source: with the host's gcc against glibc (interpreter
 * /lib64/ld-linux-x86-64.so.2) and with musl-gcc without -static (interpreter
 * /lib/ld-musl-x86_64.so.1); both run in the sandbox with their libraries copied into the
 * root at the paths the host has them, and on the host, where the output must be the same.
 *
 * It prints its arguments (argv[0] by its base name) and environment (sorted), then one line per
 * check (`ok`/`FAIL`) and `dynamic: N passed, M failed`; exit status 0 only if every check
 * passed. Checks: /proc/self/auxv holds the pairs getauxval() gives; AT_PHDR is the
 * program's own program headers and AT_ENTRY its _start; AT_BASE is the interpreter's
 * load address, mapped from the interpreter's file; AT_EXECFN, AT_PLATFORM, AT_PAGESZ,
 * AT_UID, AT_SECURE, AT_RANDOM; /proc/self/exe is the program; every /proc/self/maps line
 * is in Linux's format; the program's text, libc's text, the heap, the stack are where
 * maps says.
 *
 * `dynamic --direct` is the same program started as the interpreter's argument
 * (`ld.so PROGRAM --direct`): the kernel then ran the interpreter as the program, so
 * /proc/self/exe and the kernel's vector (/proc/self/auxv) describe the interpreter, with
 * AT_BASE 0, while the C library's own view (getauxval) is the program's.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char _start[];
extern char **environ;

static int passed, failed;

static void check(int ok, const char *what, const char *detail_format, ...)
{
	if (ok) {
		passed++;
		printf("ok   %s\n", what);
		return;
	}
	failed++;
	printf("FAIL %s: ", what);
	va_list args;
	va_start(args, detail_format);
	vprintf(detail_format, args);
	va_end(args);
	printf("\n");
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* A whole file read into a NUL-terminated buffer (/proc files report size 0). */
static char *read_all(const char *path, size_t *length)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t size = 0, capacity = 4096;
	char *buffer = malloc(capacity + 1);
	for (;;) {
		if (size == capacity) {
			capacity *= 2;
			buffer = realloc(buffer, capacity + 1);
		}
		ssize_t got = read(fd, buffer + size, capacity - size);
		if (got < 0) {
			free(buffer);
			close(fd);
			return NULL;
		}
		if (got == 0)
			break;
		size += (size_t)got;
	}
	close(fd);
	buffer[size] = 0;
	*length = size;
	return buffer;
}

/* One line of /proc/self/maps. */
struct area {
	unsigned long start, end, offset, inode;
	char perms[5];
	char path[PATH_MAX];
};

#define MAX_AREAS 512
static struct area areas[MAX_AREAS];
static int area_count;
static int bad_lines;
static char first_bad_line[256];

/*
 * Reads /proc/self/maps, checking each line's format as Linux's show_map_vma prints it:
 * "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ", then for a named area spaces up to
 * column 73 and the name.
 */
static void read_maps(void)
{
	size_t length;
	char *text = read_all("/proc/self/maps", &length);
	area_count = 0;
	bad_lines = 0;
	if (!text)
		return;
	for (char *line = text; *line;) {
		char *end = strchr(line, '\n');
		if (!end) {
			bad_lines++;
			snprintf(first_bad_line, sizeof first_bad_line, "no newline: %s", line);
			break;
		}
		*end = 0;
		struct area area = { 0 };
		unsigned major, minor;
		int consumed = 0;
		int fields = sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &area.start, &area.end,
				    area.perms, &area.offset, &major, &minor, &area.inode, &consumed);
		int good = fields == 7 && consumed > 0 && area.start < area.end;
		/* The address and offset fields are at least 8 hex digits. */
		char *dash = strchr(line, '-');
		good = good && dash && dash - line >= 8;
		const char *name = line + consumed;
		if (good && *name) {
			/* Named: the name starts at column 73 (or right after a longer prefix). */
			long column = name - line;
			good = column == 73 || (column > 73 && line[column - 2] != ' ');
			snprintf(area.path, sizeof area.path, "%s", name);
		} else if (good) {
			/* Anonymous: the line ends with the inode's trailing space. */
			good = line[strlen(line) - 1] == ' ';
		}
		if (!good) {
			if (!bad_lines)
				snprintf(first_bad_line, sizeof first_bad_line, "%s", line);
			bad_lines++;
		} else if (area_count < MAX_AREAS) {
			areas[area_count++] = area;
		}
		line = end + 1;
	}
	free(text);
}

static const struct area *area_of(unsigned long address)
{
	for (int i = 0; i < area_count; i++)
		if (areas[i].start <= address && address < areas[i].end)
			return &areas[i];
	return NULL;
}

/* The kernel's vector from /proc/self/auxv: pairs up to AT_NULL. */
static unsigned long kernel_auxv[128][2];
static int kernel_auxv_count;
static int kernel_auxv_ends_with_null;

static void read_kernel_auxv(void)
{
	size_t length;
	char *bytes = read_all("/proc/self/auxv", &length);
	kernel_auxv_count = 0;
	kernel_auxv_ends_with_null = 0;
	if (!bytes)
		return;
	for (size_t at = 0; at + 16 <= length && kernel_auxv_count < 128; at += 16) {
		unsigned long key, value;
		memcpy(&key, bytes + at, 8);
		memcpy(&value, bytes + at + 8, 8);
		if (key == AT_NULL) {
			kernel_auxv_ends_with_null = at + 16 == length;
			break;
		}
		kernel_auxv[kernel_auxv_count][0] = key;
		kernel_auxv[kernel_auxv_count][1] = value;
		kernel_auxv_count++;
	}
	free(bytes);
}

static int kernel_value(unsigned long key, unsigned long *value)
{
	for (int i = 0; i < kernel_auxv_count; i++)
		if (kernel_auxv[i][0] == key) {
			*value = kernel_auxv[i][1];
			return 1;
		}
	return 0;
}

/* The program's PT_INTERP path and load bias, from its own program headers. */
static const char *program_interpreter(unsigned long *bias)
{
	const Elf64_Phdr *phdr = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned long count = getauxval(AT_PHNUM);
	const char *interp = NULL;
	*bias = 0;
	for (unsigned long i = 0; phdr && i < count; i++)
		if (phdr[i].p_type == PT_PHDR)
			*bias = (unsigned long)phdr - phdr[i].p_vaddr;
	for (unsigned long i = 0; phdr && i < count; i++)
		if (phdr[i].p_type == PT_INTERP)
			interp = (const char *)(*bias + phdr[i].p_vaddr);
	return interp;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int direct = argc > 1 && strcmp(argv[argc - 1], "--direct") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("argc: %d\n", argc);
	printf("argv[0]: %s\n", base_name(argv[0]));
	for (int i = 1; i < argc; i++)
		printf("argv[%d]: %s\n", i, argv[i]);
	/* Sorted: the host's test runner sets the environment in its own order. */
	size_t variables = 0;
	while (environ[variables])
		variables++;
	char **sorted = malloc((variables + 1) * sizeof *sorted);
	memcpy(sorted, environ, (variables + 1) * sizeof *sorted);
	qsort(sorted, variables, sizeof *sorted, compare_strings);
	for (size_t i = 0; i < variables; i++)
		printf("env: %s\n", sorted[i]);
	free(sorted);

	unsigned long bias;
	const char *interp = program_interpreter(&bias);
	char interp_real[PATH_MAX] = "";
	check(interp && realpath(interp, interp_real), "the program names its interpreter (PT_INTERP)",
	      "PT_INTERP %s", interp ? interp : "(none)");

	read_kernel_auxv();
	check(kernel_auxv_count >= 15 && kernel_auxv_ends_with_null,
	      "/proc/self/auxv is the vector, AT_NULL last", "%d pairs", kernel_auxv_count);

	char exe[PATH_MAX] = "";
	ssize_t exe_length = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (exe_length > 0)
		exe[exe_length] = 0;

	read_maps();
	check(area_count > 0 && bad_lines == 0, "/proc/self/maps lines are in Linux's format",
	      "%d bad lines, the first: '%s'", bad_lines, first_bad_line);

	unsigned long base = 0, kernel_phdr = 0, kernel_entry = 0;
	kernel_value(AT_BASE, &base);
	kernel_value(AT_PHDR, &kernel_phdr);
	kernel_value(AT_ENTRY, &kernel_entry);

	if (!direct) {
		/* Every pair the kernel wrote is what the C library read at start-up. */
		int mismatches = 0;
		unsigned long first_key = 0;
		for (int i = 0; i < kernel_auxv_count; i++) {
			unsigned long key = kernel_auxv[i][0];
			/* glibc answers AT_HWCAP with its own x86-64 bits (checked below). */
			if (key == AT_HWCAP)
				continue;
			if (getauxval(key) != kernel_auxv[i][1] && !mismatches++)
				first_key = key;
		}
		check(mismatches == 0, "/proc/self/auxv pairs are what getauxval() gives",
		      "%d differ, the first key %lu", mismatches, first_key);
		check(strcmp(exe, interp_real) != 0 && area_of((unsigned long)main) &&
			      strcmp(area_of((unsigned long)main)->path, exe) == 0,
		      "/proc/self/exe is the program, whose text maps shows", "exe %s", exe);
		check(strcmp(base_name(exe), base_name(argv[0])) == 0,
		      "/proc/self/exe names the program argv[0] names", "exe %s", exe);
		check(base != 0, "AT_BASE is not 0 for a dynamically linked program", "0");
		const struct area *interp_area = area_of(base);
		check(interp_area && strcmp(interp_area->path, interp_real) == 0 &&
			      interp_area->offset == 0,
		      "AT_BASE is the start of the interpreter's mapping of its file",
		      "AT_BASE %#lx in %s", base, interp_area ? interp_area->path : "nothing");
	} else {
		/* The kernel ran the interpreter itself: its vector and exe are the interpreter's. */
		check(strcmp(exe, interp_real) == 0, "/proc/self/exe is the interpreter run directly",
		      "exe %s", exe);
		check(base == 0, "the kernel's AT_BASE is 0 for an interpreter run directly",
		      "%#lx", base);
		const struct area *phdr_area = area_of(kernel_phdr);
		check(phdr_area && strcmp(phdr_area->path, interp_real) == 0,
		      "the kernel's AT_PHDR is in the interpreter's mapping", "in %s",
		      phdr_area ? phdr_area->path : "nothing");
		const struct area *entry_area = area_of(kernel_entry);
		check(entry_area && strcmp(entry_area->path, interp_real) == 0 &&
			      entry_area->perms[2] == 'x',
		      "the kernel's AT_ENTRY is in the interpreter's text", "in %s",
		      entry_area ? entry_area->path : "nothing");
	}

	/* The C library's view: the program's own headers and entry. */
	const Elf64_Phdr *phdr = (const Elf64_Phdr *)getauxval(AT_PHDR);
	int has_phdr = 0;
	for (unsigned long i = 0; phdr && i < getauxval(AT_PHNUM); i++)
		has_phdr |= phdr[i].p_type == PT_PHDR || phdr[i].p_type == PT_LOAD;
	check(has_phdr && getauxval(AT_PHENT) == sizeof(Elf64_Phdr),
	      "getauxval(AT_PHDR) is the program's program headers", "%#lx", (unsigned long)phdr);
	check(getauxval(AT_ENTRY) == (unsigned long)_start, "getauxval(AT_ENTRY) is the program's _start",
	      "%#lx, _start %p", getauxval(AT_ENTRY), (void *)_start);
	const struct area *phdr_area = area_of((unsigned long)phdr);
	check(phdr_area && area_of((unsigned long)main) &&
		      strcmp(phdr_area->path, area_of((unsigned long)main)->path) == 0,
	      "the program headers lie in the program's own mapping", "%#lx", (unsigned long)phdr);

	const char *execfn = (const char *)getauxval(AT_EXECFN);
	/* Run directly, glibc's loader points AT_EXECFN at the program's path too. */
	check(execfn && strcmp(base_name(execfn), base_name(argv[0])) == 0,
	      "AT_EXECFN is the program's path", "%s", execfn ? execfn : "(none)");
	unsigned long hwcap = 0;
	unsigned int eax, ebx, ecx, edx;
	check(kernel_value(AT_HWCAP, &hwcap) && __get_cpuid(1, &eax, &ebx, &ecx, &edx) &&
		      hwcap == edx,
	      "the kernel's AT_HWCAP is CPUID leaf 1's EDX", "%#lx", hwcap);
	const char *platform = (const char *)getauxval(AT_PLATFORM);
	check(platform && strcmp(platform, "x86_64") == 0, "AT_PLATFORM is x86_64", "%s",
	      platform ? platform : "(none)");
	check(getauxval(AT_PAGESZ) == 4096 && sysconf(_SC_PAGESIZE) == 4096,
	      "AT_PAGESZ is 4096, as sysconf says", "%lu", getauxval(AT_PAGESZ));
	check(getauxval(AT_CLKTCK) == 100, "AT_CLKTCK is 100", "%lu", getauxval(AT_CLKTCK));
	check(getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid() &&
		      getauxval(AT_GID) == getgid() && getauxval(AT_EGID) == getegid(),
	      "AT_UID, AT_EUID, AT_GID, AT_EGID are the process's ids", "uid %lu", getauxval(AT_UID));
	check(getauxval(AT_SECURE) == 0, "AT_SECURE is 0 for a plain exec", "%lu",
	      getauxval(AT_SECURE));
	const unsigned char *random_bytes = (const unsigned char *)getauxval(AT_RANDOM);
	int nonzero = 0;
	for (int i = 0; random_bytes && i < 16; i++)
		nonzero |= random_bytes[i];
	check(random_bytes && nonzero && area_of((unsigned long)random_bytes) &&
		      strcmp(area_of((unsigned long)random_bytes)->path, "[stack]") == 0,
	      "AT_RANDOM points at 16 bytes on the stack", "%p", (void *)random_bytes);
	unsigned long minsigstksz = 0;
	check(kernel_value(AT_MINSIGSTKSZ, &minsigstksz) && minsigstksz >= 1024 &&
		      minsigstksz % 16 == 0,
	      "AT_MINSIGSTKSZ is a signal frame's size, 16-byte aligned", "%lu", minsigstksz);

	/* libc's text is a file mapping, executable and not writable. */
	const struct area *libc_area = area_of((unsigned long)(void *)printf);
	check(libc_area && libc_area->path[0] == '/' && strcmp(libc_area->perms, "r-xp") == 0,
	      "printf is in an r-xp mapping of a file", "%s %s", libc_area ? libc_area->perms : "",
	      libc_area ? libc_area->path : "nothing");
	if (libc_area)
		printf("libc: %s\n", base_name(libc_area->path));

	/* The break: after the program's mappings, and [heap] once it has grown. */
	unsigned long program_end = 0;
	for (int i = 0; i < area_count; i++)
		if (strcmp(areas[i].path, exe) == 0 && areas[i].end > program_end)
			program_end = areas[i].end;
	unsigned long old_break = (unsigned long)syscall(SYS_brk, 0);
	unsigned long new_break = (unsigned long)syscall(SYS_brk, old_break + 8192);
	read_maps();
	/* musl's malloc leaves guard pages in the break: [heap] may be several areas. */
	const struct area *heap = area_of(new_break - 1);
	check(new_break == old_break + 8192 && heap && strcmp(heap->path, "[heap]") == 0 &&
		      (direct || heap->start >= program_end),
	      "the break grows in [heap], above the program", "break %#lx -> %#lx, heap %#lx-%#lx",
	      old_break, new_break, heap ? heap->start : 0, heap ? heap->end : 0);
	int local = 0;
	const struct area *stack = area_of((unsigned long)&local);
	check(stack && strcmp(stack->path, "[stack]") == 0, "a local variable is in [stack]", "%s",
	      stack ? stack->path : "nothing");

	printf("dynamic: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
