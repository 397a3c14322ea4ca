/*
 * pty-check: pseudo-terminals and job control as Linux has them (issue 15). Each check
 * prints "ok   NAME" or "FAIL NAME: DETAIL"; the last line is
 * "pty-check: N passed, M failed" and the exit status 1 if any failed.
 *
 * Usage: pty-check [BUSYBOX]   (default /bin/busybox; its sh, stty, tty and sleep)
 *
 * The expectations are Linux's: the program passes on the host as on the sandbox. It
 * runs as the sandbox's init or, on the host, as a child subreaper, so orphans come back
 * to it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;
static const char *busybox = "/bin/busybox";

static void check(const char *name, int ok, const char *fmt, ...) {
    if (ok) {
        printf("ok   %s\n", name);
        passed++;
    } else {
        char detail[512];
        va_list args;
        va_start(args, fmt);
        vsnprintf(detail, sizeof detail, fmt, args);
        va_end(args);
        printf("FAIL %s: %s\n", name, detail);
        failed++;
    }
    fflush(stdout);
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads from fd into buf (appending at *len) until `want` appears or `ms` pass. */
static int read_until(int fd, char *buf, size_t size, size_t *len, const char *want, int ms) {
    long deadline = now_ms() + ms;
    for (;;) {
        buf[*len] = 0;
        if (want && strstr(buf, want)) return 1;
        long left = deadline - now_ms();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, (int)left);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return 0;
        ssize_t got = read(fd, buf + *len, size - 1 - *len);
        if (got <= 0) return want == NULL;
        *len += (size_t)got;
        if (*len >= size - 1) return want == NULL;
    }
}

/* Everything readable within `ms`. */
static size_t drain(int fd, char *buf, size_t size, int ms) {
    size_t len = 0;
    long deadline = now_ms() + ms;
    for (;;) {
        long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0 || !(p.revents & POLLIN)) break;
        ssize_t got = read(fd, buf + len, size - 1 - len);
        if (got <= 0) break;
        len += (size_t)got;
        if (len >= size - 1) break;
    }
    buf[len] = 0;
    return len;
}

/* waitpid with a deadline; 0 on timeout. */
static pid_t wait_for(pid_t pid, int *status, int options, int ms) {
    long deadline = now_ms() + ms;
    for (;;) {
        pid_t got = waitpid(pid, status, options | WNOHANG);
        if (got != 0) return got;
        if (now_ms() >= deadline) return 0;
        usleep(10000);
    }
}

static int new_pty(int *master, int *slave, char *name) {
    struct winsize size = {.ws_row = 24, .ws_col = 80};
    return openpty(master, slave, name, NULL, &size);
}

static void posix_interfaces(void) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    check("posix_openpt opens /dev/ptmx", master >= 0, "errno %d", errno);
    if (master < 0) return;
    check("grantpt", grantpt(master) == 0, "errno %d", errno);
    char *name = ptsname(master);
    unsigned number = 999;
    ioctl(master, TIOCGPTN, &number);
    char expected[32];
    snprintf(expected, sizeof expected, "/dev/pts/%u", number);
    check("ptsname is /dev/pts/N with TIOCGPTN's N", name && strcmp(name, expected) == 0,
          "%s vs %s", name ? name : "(null)", expected);
    int locked = -1;
    ioctl(master, TIOCGPTLCK, &locked);
    int early = open(expected, O_RDWR | O_NOCTTY);
    int early_errno = errno;
    check("the slave is locked until unlockpt (open: EIO)", locked == 1 && early < 0 && early_errno == EIO,
          "locked %d open %d errno %d", locked, early, early_errno);
    check("unlockpt", unlockpt(master) == 0, "errno %d", errno);
    ioctl(master, TIOCGPTLCK, &locked);
    int slave = open(expected, O_RDWR | O_NOCTTY);
    check("the slave opens once unlocked", slave >= 0 && locked == 0, "fd %d errno %d locked %d", slave, errno, locked);
    struct stat st;
    fstat(slave, &st);
    check("the slave is character device 136:N", S_ISCHR(st.st_mode) && major(st.st_rdev) == 136 && minor(st.st_rdev) == number,
          "mode %o rdev %u:%u", st.st_mode, major(st.st_rdev), minor(st.st_rdev));
    int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    char link[64] = "";
    if (peer >= 0) ttyname_r(peer, link, sizeof link);
    check("TIOCGPTPEER opens the slave by its master", peer >= 0 && strcmp(link, expected) == 0,
          "fd %d name %s errno %d", peer, link, errno);
    check("isatty on both sides", isatty(master) && isatty(slave), "%d %d", isatty(master), isatty(slave));
    int unused;
    check("TIOCGPTN on the slave: ENOTTY", ioctl(slave, TIOCGPTN, &unused) < 0 && errno == ENOTTY, "errno %d", errno);
    close(peer);
    close(slave);
    close(master);
    check("the node goes with the master", access(expected, F_OK) < 0 && errno == ENOENT, "errno %d", errno);
}

static void default_settings(void) {
    int master, slave;
    char name[64];
    if (new_pty(&master, &slave, name) < 0) {
        check("openpty", 0, "errno %d", errno);
        return;
    }
    struct termios t;
    tcgetattr(slave, &t);
    check("a new slave is cooked: ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD",
          t.c_iflag == (ICRNL | IXON) && t.c_oflag == (OPOST | ONLCR) && t.c_cflag == (B38400 | CS8 | CREAD),
          "iflag %o oflag %o cflag %o", t.c_iflag, t.c_oflag, t.c_cflag);
    check("... ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN",
          t.c_lflag == (ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN), "lflag %o", t.c_lflag);
    check("... ^C ^\\ DEL ^U ^D, MIN 1 TIME 0, 38400 baud",
          t.c_cc[VINTR] == 3 && t.c_cc[VQUIT] == 034 && t.c_cc[VERASE] == 0177 && t.c_cc[VKILL] == 025 &&
              t.c_cc[VEOF] == 4 && t.c_cc[VMIN] == 1 && t.c_cc[VTIME] == 0 && cfgetospeed(&t) == B38400,
          "cc %d %d %d %d %d %d %d", t.c_cc[VINTR], t.c_cc[VQUIT], t.c_cc[VERASE], t.c_cc[VKILL], t.c_cc[VEOF],
          t.c_cc[VMIN], t.c_cc[VTIME]);
    struct termios m;
    tcgetattr(master, &m);
    check("TCGETS on the master reads the slave's settings", m.c_lflag == t.c_lflag, "%o", m.c_lflag);
    struct winsize size = {0};
    ioctl(slave, TIOCGWINSZ, &size);
    check("openpty's window size", size.ws_row == 24 && size.ws_col == 80, "%dx%d", size.ws_row, size.ws_col);
    t.c_cflag = (t.c_cflag & ~CSIZE) | CS7 | PARENB;
    tcsetattr(slave, TCSANOW, &t);
    tcgetattr(slave, &t);
    check("a pty keeps CS8 and no parity", (t.c_cflag & (CSIZE | PARENB)) == CS8, "cflag %o", t.c_cflag);
    close(slave);
    close(master);
}

static void editing_and_echo(void) {
    int master, slave;
    char name[64], buf[256];
    if (new_pty(&master, &slave, name) < 0) return;
    struct termios t;
    tcgetattr(slave, &t);
    t.c_cc[VERASE] = '\b';
    tcsetattr(slave, TCSANOW, &t);
    write(master, "abc\b\bd\n", 7);
    ssize_t got = read(slave, buf, sizeof buf - 1);
    buf[got > 0 ? got : 0] = 0;
    check("canonical editing: abc^H^Hd\\n reads as ad\\n", got == 3 && memcmp(buf, "ad\n", 3) == 0, "%zd '%s'", got, buf);
    size_t len = drain(master, buf, sizeof buf, 300);
    check("echo rubs out what was erased", len == 12 && memcmp(buf, "abc\b \b\b \bd\r\n", 12) == 0, "%zu bytes", len);

    write(master, "\x04", 1);
    got = read(slave, buf, sizeof buf);
    check("^D at the start of a line reads as end of file", got == 0, "%zd", got);
    write(master, "xy\x04", 3);
    got = read(slave, buf, sizeof buf);
    check("^D after text ends the line without itself", got == 2 && memcmp(buf, "xy", 2) == 0, "%zd", got);
    drain(master, buf, sizeof buf, 100);

    write(master, "one two\x17three\n", 14);
    got = read(slave, buf, sizeof buf - 1);
    buf[got > 0 ? got : 0] = 0;
    check("^W erases a word", strcmp(buf, "one three\n") == 0, "'%s'", buf);
    write(master, "gone\x15kept\n", 10);
    got = read(slave, buf, sizeof buf - 1);
    buf[got > 0 ? got : 0] = 0;
    check("^U erases the line", strcmp(buf, "kept\n") == 0, "'%s'", buf);
    drain(master, buf, sizeof buf, 100);

    write(slave, "out\n", 4);
    len = drain(master, buf, sizeof buf, 300);
    check("output processing: \\n written as \\r\\n", len == 5 && memcmp(buf, "out\r\n", 5) == 0, "%zu", len);

    int flags = fcntl(slave, F_GETFL);
    fcntl(slave, F_SETFL, flags | O_NONBLOCK);
    got = read(slave, buf, sizeof buf);
    check("an empty slave read with O_NONBLOCK: EAGAIN", got < 0 && errno == EAGAIN, "%zd errno %d", got, errno);
    fcntl(slave, F_SETFL, flags);
    write(master, "12\n45", 5);
    int waiting = -1;
    usleep(100000);
    ioctl(slave, FIONREAD, &waiting);
    check("FIONREAD counts complete lines in canonical mode", waiting == 3, "%d", waiting);
    tcflush(slave, TCIFLUSH);
    ioctl(slave, FIONREAD, &waiting);
    check("TCIFLUSH drops the input", waiting == 0, "%d", waiting);
    drain(master, buf, sizeof buf, 100);
    char sti = 'x';
    int sti_result = ioctl(slave, TIOCSTI, &sti);
    int sti_errno = errno;
    int admin = 0;
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    while (status && fgets(line, sizeof line, status)) {
        unsigned long long caps;
        if (sscanf(line, "CapEff: %llx", &caps) == 1) admin = (caps >> 21) & 1;
    }
    if (status) fclose(status);
    if (!admin)
        check("TIOCSTI refused without CAP_SYS_ADMIN: EIO", sti_result < 0 && sti_errno == EIO, "%d errno %d", sti_result, sti_errno);
    else
        check("TIOCSTI with CAP_SYS_ADMIN", sti_result == 0, "%d errno %d", sti_result, sti_errno);
    close(slave);
    close(master);
}

static void raw_mode(void) {
    int master, slave;
    char name[64], buf[64];
    if (new_pty(&master, &slave, name) < 0) return;
    struct termios t;
    tcgetattr(slave, &t);
    cfmakeraw(&t);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 2;
    tcsetattr(slave, TCSANOW, &t);
    long started = now_ms();
    ssize_t got = read(slave, buf, sizeof buf);
    long waited = now_ms() - started;
    check("MIN 0 TIME 2: an empty read returns 0 after about 0.2 s", got == 0 && waited >= 150, "%zd after %ld ms", got, waited);
    t.c_cc[VMIN] = 3;
    t.c_cc[VTIME] = 0;
    tcsetattr(slave, TCSANOW, &t);
    write(master, "\x03\r", 2);
    usleep(100000);
    struct pollfd p = {.fd = slave, .events = POLLIN};
    int ready = poll(&p, 1, 100);
    check("MIN 3: poll waits for the third byte", ready == 0, "%d", ready);
    write(master, "z", 1);
    ready = poll(&p, 1, 2000);
    got = read(slave, buf, sizeof buf);
    check("raw mode passes ^C and \\r as bytes", ready == 1 && got == 3 && memcmp(buf, "\x03\rz", 3) == 0, "%d %zd", ready, got);
    close(slave);
    close(master);
}

static void flow_control(void) {
    int master, slave;
    char name[64], buf[64];
    if (new_pty(&master, &slave, name) < 0) return;
    write(master, "\x13", 1);
    usleep(100000);
    int flags = fcntl(slave, F_GETFL);
    fcntl(slave, F_SETFL, flags | O_NONBLOCK);
    ssize_t stopped = write(slave, "held", 4);
    int stopped_errno = errno;
    check("^S stops output: a non-blocking write is EAGAIN", stopped < 0 && stopped_errno == EAGAIN, "%zd errno %d", stopped, stopped_errno);
    write(master, "\x11", 1);
    usleep(100000);
    ssize_t resumed = write(slave, "go", 2);
    size_t len = drain(master, buf, sizeof buf, 300);
    check("^Q starts it again", resumed == 2 && len == 2 && memcmp(buf, "go", 2) == 0, "%zd %zu", resumed, len);
    close(slave);
    len = drain(master, buf, sizeof buf, 100);
    struct pollfd p = {.fd = master, .events = POLLIN};
    poll(&p, 1, 100);
    ssize_t after = read(master, buf, sizeof buf);
    check("the slave's last close: the master sees POLLHUP and EIO", (p.revents & POLLHUP) && after < 0 && errno == EIO,
          "revents %x read %zd errno %d", p.revents, after, errno);
    close(master);
}

/* The scenario: a shell on the slave as its controlling terminal. */
static void shell_and_interrupt(void) {
    int master, slave;
    char name[64];
    if (new_pty(&master, &slave, name) < 0) return;
    int report[2];
    pipe(report);
    pid_t shell = fork();
    if (shell == 0) {
        close(master);
        close(report[0]);
        setsid();
        if (ioctl(slave, TIOCSCTTY, 0) < 0) _exit(90);
        /* Another group of the session: a ^C must not reach it. */
        pid_t other = fork();
        if (other == 0) {
            setpgid(0, 0);
            char pid_line[32];
            snprintf(pid_line, sizeof pid_line, "%d\n", getpid());
            signal(SIGINT, SIG_DFL);
            for (;;) pause();
        }
        setpgid(other, other);
        char note[32];
        int n = snprintf(note, sizeof note, "%d\n", other);
        write(report[1], note, (size_t)n);
        close(report[1]);
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        if (slave > 2) close(slave);
        execl(busybox, "sh", "-c", "stty -a; tty; echo pid=$$; sleep 100; echo not-reached", (char *)NULL);
        _exit(91);
    }
    close(slave);
    close(report[1]);
    char note[32] = "";
    read(report[0], note, sizeof note - 1);
    pid_t other = atoi(note);
    static char out[8192];
    size_t len = 0;
    char pid_line[32];
    snprintf(pid_line, sizeof pid_line, "pid=%d\r\n", shell);
    int seen = read_until(master, out, sizeof out, &len, pid_line, 30000);
    check("sh -c 'stty -a; tty; echo $$' runs on the slave", seen, "output: %s", out);
    check("stty -a shows 38400 baud, 24 rows, 80 columns", strstr(out, "speed 38400 baud") && strstr(out, "rows 24") && strstr(out, "columns 80"), "%s", out);
    check("stty -a shows intr = ^C and icanon", strstr(out, "intr = ^C") && strstr(out, " icanon") && !strstr(out, "-icanon"), "%s", out);
    char tty_line[80];
    snprintf(tty_line, sizeof tty_line, "\r\n%s\r\n", name);
    check("tty names the slave", strstr(out, tty_line) != NULL, "want %s in %s", name, out);
    usleep(300000);
    write(master, "\x03", 1);
    int status = 0;
    pid_t ended = wait_for(shell, &status, 0, 20000);
    check("^C ends the foreground group (sh and its sleep) with SIGINT",
          ended == shell && WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "waited %d status %x", ended, status);
    len = 0;
    out[0] = 0;
    read_until(master, out, sizeof out, &len, "^C", 2000);
    check("^C is echoed as ^C", strstr(out, "^C") != NULL && !strstr(out, "not-reached"), "%s", out);
    usleep(200000);
    int alive = other > 0 && kill(other, 0) == 0;
    int other_status = 0;
    pid_t other_ended = waitpid(other, &other_status, WNOHANG);
    check("the session's other group did not get it", alive && other_ended == 0, "alive %d ended %d status %x", alive, other_ended, other_status);
    if (other > 0) {
        kill(other, SIGKILL);
        wait_for(other, &other_status, 0, 10000);
    }
    close(master);
}

/* A background group reading or (with TOSTOP) writing its terminal is stopped. */
static void job_control(void) {
    int master, slave;
    char name[64];
    if (new_pty(&master, &slave, name) < 0) return;
    pid_t leader = fork();
    if (leader == 0) {
        close(master);
        setsid();
        if (ioctl(slave, TIOCSCTTY, 0) < 0) _exit(80);
        int code = 0;
        pid_t reader = fork();
        if (reader == 0) {
            setpgid(0, 0);
            char byte;
            _exit(read(slave, &byte, 1) == 1 && byte == 'q' ? 0 : 1);
        }
        setpgid(reader, reader);
        int status;
        if (waitpid(reader, &status, WUNTRACED) != reader || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGTTIN) code |= 1;
        /* Brought to the foreground and continued, it reads. */
        if (tcsetpgrp(slave, reader) < 0) code |= 2;
        kill(reader, SIGCONT);
        if (waitpid(reader, &status, WUNTRACED | WCONTINUED) == reader && WIFCONTINUED(status))
            waitpid(reader, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) code |= 4;
        /* Back to the leader's group: tcsetpgrp from the background with SIGTTOU ignored. */
        signal(SIGTTOU, SIG_IGN);
        if (tcsetpgrp(slave, getpgrp()) < 0) code |= 8;
        signal(SIGTTOU, SIG_DFL);
        struct termios t;
        tcgetattr(slave, &t);
        t.c_lflag |= TOSTOP;
        tcsetattr(slave, TCSANOW, &t);
        pid_t writer = fork();
        if (writer == 0) {
            setpgid(0, 0);
            _exit(write(slave, "w", 1) == 1 ? 0 : 1);
        }
        setpgid(writer, writer);
        if (waitpid(writer, &status, WUNTRACED) != writer || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGTTOU) code |= 16;
        kill(writer, SIGKILL);
        waitpid(writer, &status, 0);
        pid_t ignorer = fork();
        if (ignorer == 0) {
            setpgid(0, 0);
            signal(SIGTTIN, SIG_IGN);
            char byte;
            ssize_t got = read(slave, &byte, 1);
            _exit(got < 0 && errno == EIO ? 0 : 1);
        }
        setpgid(ignorer, ignorer);
        waitpid(ignorer, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) code |= 32;
        pid_t sid = -1;
        ioctl(slave, TIOCGSID, &sid);
        if (sid != getpid() || tcgetsid(slave) != getpid()) code |= 64;
        int tty = open("/dev/tty", O_RDWR);
        if (tty < 0) code |= 128;
        close(tty);
        _exit(code);
    }
    close(slave);
    usleep(500000);
    write(master, "q\n", 2);
    int status = 0;
    pid_t ended = wait_for(leader, &status, 0, 30000);
    int code = ended == leader && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    check("a background reader gets SIGTTIN", code >= 0 && !(code & 1) && code < 80, "code %d status %x", code, status);
    check("tcsetpgrp and SIGCONT let it read", code >= 0 && !(code & 6) && code < 80, "code %d", code);
    check("tcsetpgrp from the background with SIGTTOU ignored", code >= 0 && !(code & 8) && code < 80, "code %d", code);
    check("TOSTOP: a background writer gets SIGTTOU", code >= 0 && !(code & 16) && code < 80, "code %d", code);
    check("a background reader ignoring SIGTTIN: EIO", code >= 0 && !(code & 32) && code < 80, "code %d", code);
    check("TIOCGSID and tcgetsid name the session", code >= 0 && !(code & 64) && code < 80, "code %d", code);
    check("/dev/tty opens the controlling terminal", code >= 0 && !(code & 128) && code < 80, "code %d", code);
    int no_tty = open("/dev/tty", O_RDWR);
    int no_tty_errno = errno;
    if (no_tty >= 0) close(no_tty);
    close(master);
    pid_t loner = fork();
    if (loner == 0) {
        setsid();
        int fd = open("/dev/tty", O_RDWR);
        _exit(fd < 0 && errno == ENXIO ? 0 : 1);
    }
    wait_for(loner, &status, 0, 10000);
    check("/dev/tty without a controlling terminal: ENXIO", WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %x (here: %d errno %d)", status, no_tty, no_tty_errno);
}

/* A stopped job whose group its parent's exit orphans gets SIGHUP and SIGCONT (POSIX). */
static void orphaned_stopped_job(void) {
    int report[2];
    pipe(report);
    pid_t parent = fork();
    if (parent == 0) {
        close(report[0]);
        setsid();
        pid_t job = fork();
        if (job == 0) {
            setpgid(0, 0);
            raise(SIGSTOP);
            _exit(0);
        }
        setpgid(job, job);
        int status;
        if (waitpid(job, &status, WUNTRACED) != job || !WIFSTOPPED(status)) _exit(1);
        char note[32];
        int n = snprintf(note, sizeof note, "%d\n", job);
        write(report[1], note, (size_t)n);
        _exit(0);
    }
    close(report[1]);
    char note[32] = "";
    read(report[0], note, sizeof note - 1);
    close(report[0]);
    pid_t job = atoi(note);
    int status = 0;
    wait_for(parent, &status, 0, 10000);
    int job_status = 0;
    pid_t ended = job > 0 ? wait_for(job, &job_status, 0, 10000) : -1;
    check("a stopped job orphaned by its parent's exit gets SIGHUP", ended == job && WIFSIGNALED(job_status) && WTERMSIG(job_status) == SIGHUP,
          "job %d ended %d status %x", job, ended, job_status);
}

static volatile sig_atomic_t got_winch, got_hup;
static void on_winch(int signo) { (void)signo; got_winch = 1; }
static void on_hup(int signo) { (void)signo; got_hup = 1; }

/* A resize signals the foreground group; closing the master hangs the slave up. */
static void resize_and_hangup(void) {
    int master, slave;
    char name[64];
    if (new_pty(&master, &slave, name) < 0) return;
    int ready[2];
    pipe(ready);
    pid_t leader = fork();
    if (leader == 0) {
        close(master);
        close(ready[0]);
        struct sigaction action = {0};
        action.sa_handler = on_winch;
        sigaction(SIGWINCH, &action, NULL);
        action.sa_handler = on_hup;
        sigaction(SIGHUP, &action, NULL);
        setsid();
        if (ioctl(slave, TIOCSCTTY, 0) < 0) _exit(70);
        write(ready[1], "r", 1);
        int code = 0;
        long deadline = now_ms() + 20000;
        while (!got_winch && now_ms() < deadline) usleep(10000);
        struct winsize size = {0};
        ioctl(slave, TIOCGWINSZ, &size);
        if (!got_winch || size.ws_row != 40 || size.ws_col != 100) code |= 1;
        write(ready[1], "w", 1);
        while (!got_hup && now_ms() < deadline) usleep(10000);
        if (!got_hup) code |= 2;
        char byte;
        if (read(slave, &byte, 1) != 0) code |= 4;
        if (write(slave, "x", 1) != -1 || errno != EIO) code |= 8;
        struct termios t;
        if (tcgetattr(slave, &t) != -1 || errno != EIO) code |= 16;
        if (open("/dev/tty", O_RDWR) != -1 || errno != ENXIO) code |= 32;
        _exit(code);
    }
    close(slave);
    char note;
    read(ready[0], &note, 1);
    struct winsize size = {.ws_row = 40, .ws_col = 100};
    ioctl(master, TIOCSWINSZ, &size);
    read(ready[0], &note, 1);
    close(master);
    int status = 0;
    pid_t ended = wait_for(leader, &status, 0, 30000);
    int code = ended == leader && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    check("TIOCSWINSZ on the master: SIGWINCH and the new size on the slave", code >= 0 && code < 64 && !(code & 1), "code %d status %x", code, status);
    check("closing the master: SIGHUP to the session leader", code >= 0 && code < 64 && !(code & 2), "code %d", code);
    check("after the hang-up: reads 0, writes and ioctls EIO", code >= 0 && code < 64 && !(code & 28), "code %d", code);
    check("after the hang-up: no controlling terminal", code >= 0 && code < 64 && !(code & 32), "code %d", code);
    close(ready[0]);
    close(ready[1]);
}

static void packet_mode(void) {
    int master, slave;
    char name[64];
    unsigned char buf[64];
    if (new_pty(&master, &slave, name) < 0) return;
    int on = 1;
    ioctl(master, TIOCPKT, &on);
    write(slave, "hi", 2);
    ssize_t got = read(master, buf, sizeof buf);
    check("packet mode: data after a TIOCPKT_DATA byte", got == 3 && buf[0] == TIOCPKT_DATA && memcmp(buf + 1, "hi", 2) == 0, "%zd", got);
    tcflush(slave, TCIFLUSH);
    got = read(master, buf, sizeof buf);
    check("packet mode: TCIFLUSH on the slave reads as TIOCPKT_FLUSHREAD", got == 1 && buf[0] == TIOCPKT_FLUSHREAD, "%zd %x", got, buf[0]);
    close(slave);
    close(master);
}

int main(int argc, char **argv) {
    if (argc > 1) busybox = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGTTOU, SIG_IGN);
    posix_interfaces();
    default_settings();
    editing_and_echo();
    raw_mode();
    flow_control();
    packet_mode();
    shell_and_interrupt();
    job_control();
    orphaned_stopped_job();
    resize_and_hangup();
    printf("pty-check: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
