//! What the Debian boot tests run: one `bash -c` script per boot (a boot under TCG costs
//! seconds, so each groups many commands). Every script sends stderr to stdout (`exec
//! 2>&1`) so an error message is compared too, and prints nothing that must differ
//! between the sandbox and the host chroot but one line, `date: <seconds>`, which the
//! check normalises (see `Normalise::EpochSeconds`). Left out on purpose, because they
//! differ by nature: file times of what the scripts create (gzip runs with `-n`, archives
//! are compared by names and contents, never listed with times), inode and device numbers,
//! the sizes of directories the two kernels make themselves (`/`, `/tmp`, mount points),
//! process ids, the kernel's release. The hostname is the same on both sides by
//! construction (the host side runs in a UTS namespace with the sandbox's).

/// Coreutils in pipelines and command substitutions, `/etc/os-release`, dpkg and apt,
/// perl, gzip and tar round trips through `/tmp`; identity through NSS (`id`, `getent`),
/// what tools read in `/proc`, file times set and copied, links, modes, renames, `split`,
/// `xargs -P`, `timeout`.
pub const COREUTILS: &str = r#"exec 2>&1
set -o pipefail
echo "== os-release"; cat /etc/os-release
echo "== debian_version $(cat /etc/debian_version)"
echo "== ls -la"; ls -la /etc/apt; ls -la /usr/bin/bash /usr/bin/perl /etc/passwd /bin
n=$(ls /usr/bin | wc -l); echo "usr/bin has $n entries"
echo "largest in /usr/bin: $(ls -S /usr/bin | head -3 | tr '\n' ' ')"
ls /usr/lib/x86_64-linux-gnu | grep -c '\.so' | sed 's/^/shared objects: /'
sort -t: -k3,3n /etc/passwd | cut -d: -f1,3,7 | head -4
echo "== sha256sum"; sha256sum /etc/debian_version /usr/bin/dpkg /usr/bin/bash
echo "== stat"; stat -c '%n %s %a %A %U:%G %h %F' /etc/passwd /usr/bin/perl /bin /usr/bin/awk /etc/apt
echo "== wc"; wc -l /etc/passwd /etc/group; wc -c < /usr/bin/bash
echo "== date"; echo "date: $(date -u +%s)"
date -u -d @1000000000 '+%F %T %Z %A'; date -u -d '2024-02-29 +1 year' +%F
TZ=Asia/Tokyo date -d @0 '+%F %T %Z'
echo "== dpkg"; dpkg -l | wc -l; dpkg -l | awk '$1 == "ii" { n++ } END { print n " installed" }'
dpkg-query -W -f='${Package} ${Version}\n' bash coreutils dpkg perl-base python3 sqlite3
dpkg -s bash | grep -E '^(Status|Priority|Essential):'
echo "== apt"; apt-get --version | head -1; apt-cache policy bash | head -2
echo "== perl"
perl -e 'use POSIX qw(floor strftime); my %h = (b => 2, a => 1, c => 3);
print join(" ", map { "$_=$h{$_}" } sort keys %h), "\n";
print join(",", map { $_ ** 2 } 1..8), "\n";
printf("%.6f %d\n", atan2(1, 1) * 4, floor(-2.5));
print strftime("%Y-%m-%d %H:%M:%S", gmtime(1234567890)), "\n";
my $s = "the quick brown fox"; $s =~ s/(\w+)/\u$1/g; print "$s\n";
open(my $f, "<", "/etc/os-release") or die; my @l = <$f>; print scalar(@l), " lines\n";'
echo "== gzip and tar"
d=/tmp/round-trip; mkdir -p $d/src; seq 1 50000 > $d/src/numbers; cp /etc/os-release /usr/bin/dpkg $d/src/
gzip -9 -n -k $d/src/numbers; stat -c '%n %s' $d/src/numbers.gz
gzip -dc $d/src/numbers.gz | sha256sum; gzip -t $d/src/numbers.gz && echo "gzip -t ok"
tar -C $d -czf $d/src.tgz src; tar -tzf $d/src.tgz | sort
mkdir $d/out; tar -C $d/out -xzf $d/src.tgz; diff -r $d/src $d/out/src && echo "tar round trip identical"
(cd $d/out/src && find . -type f | sort | xargs sha256sum)
tar -C /usr/share -cf - doc/bash doc/dpkg | tar -tf - | sort | sha256sum
rm -rf $d; ls /tmp | wc -l
echo "== identity"
id; whoami; getent passwd root bin | cut -d: -f1,6; getent group root; hostname; uname -s -m -o
echo "== /proc"
readlink /proc/self/exe; cut -d' ' -f2,3 /proc/self/stat; cat /proc/self/comm
head -1 /proc/meminfo | cut -d: -f1; awk '{ print NF }' /proc/loadavg; cat /proc/sys/kernel/ostype
test -r /proc/self/mountinfo && echo "mountinfo readable"; grep -c ' / ' /proc/self/mounts
echo "== files"
cd /tmp; mkdir -p tree/sub; touch -d '2020-01-02 03:04:05' tree/sub/f; stat -c '%y %n' tree/sub/f
cp -a tree copy; stat -c '%Y %a %n' copy/sub/f; ln -s sub/f tree/link; readlink tree/link; stat -L -c %s tree/link
chmod 640 tree/sub/f; stat -c '%A' tree/sub/f; mv tree/sub/f tree/sub/g; ls tree/sub; rm -r tree copy; ls /tmp
echo hello | tee /tmp/t1 | base64; base64 -d <<< aGVsbG8K; od -An -tx1 /tmp/t1; cksum /tmp/t1
seq 1 25000 > /tmp/n; (cd /tmp && split -l 10000 n part- && wc -l part-* && cat part-* | cmp - n && echo "split joins"); rm /tmp/n /tmp/part-* /tmp/t1
find /etc -maxdepth 1 -name '*.conf' | sort | head -5; find /usr/share/doc -type f -name copyright | wc -l
seq 1 20 | xargs -P 4 -n 1 sh -c 'echo $(( $0 * $0 ))' | sort -n | tr '\n' ' '; echo
timeout 5 sleep 0.1; echo "timeout $?"; timeout 0.2 sleep 5; echo "timeout $?"
seq 100000 -1 1 | sort -n | tail -1; seq 1 3000 | paste -sd+ | bc 2>/dev/null || seq 1 3000 | awk '{ s += $1 } END { print s }'
echo "== done"
"#;

/// Python: `json`, `hashlib`, `sqlite3` (in memory), `threading` (a lock, a queue, a
/// condition) and `subprocess` (pipes, a shell pipeline, a missing program, a timeout);
/// then extension modules and `dlopen` (`zlib`, `decimal`, `ssl`, `ctypes`), `zoneinfo`,
/// `tempfile` and `shutil`, a socket pair, `select`, an interval timer's signal, and
/// `multiprocessing` (a fork pool, a semaphore-backed lock and shared memory value).
/// `-u`: the sandbox's stdout is the console, the host's a pipe; unbuffered, both write
/// in the same order.
pub const PYTHON: &str = r#"exec 2>&1
python3 -u -c '
import hashlib, json, queue, sqlite3, subprocess, sys, threading
print("python", sys.version_info[:3], sys.getfilesystemencoding())
data = {"b": [1, 2.5, None, True], "a": {"\u00fc": "snowman \u2603", "n": -7}}
text = json.dumps(data, sort_keys=True)
print(text)
print(json.loads(text) == data, json.dumps(json.loads("[1e3, 0.1, \"\\u00e9\"]"), ensure_ascii=False))
print(hashlib.sha256(b"sandbox").hexdigest())
print(hashlib.md5(b"x" * 1000000).hexdigest(), hashlib.sha1(b"").hexdigest())
print(hashlib.blake2b(b"key", digest_size=16).hexdigest(), hashlib.sha3_256(b"abc").hexdigest()[:16])
with open("/usr/bin/dpkg", "rb") as f:
    print("dpkg sha256", hashlib.file_digest(f, "sha256").hexdigest())
db = sqlite3.connect(":memory:")
db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
db.executemany("INSERT INTO t (v) VALUES (?)", [(f"row {i}",) for i in range(2000)])
print("sqlite", sqlite3.sqlite_version, db.execute("SELECT count(*), sum(k), min(v), max(v) FROM t").fetchone())
lock = threading.Lock()
counter = [0]
def work(n):
    for _ in range(n):
        with lock:
            counter[0] += 1
threads = [threading.Thread(target=work, args=(20000,)) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print("threads counted", counter[0])
results = queue.Queue()
def square(n): results.put(n * n)
workers = [threading.Thread(target=square, args=(n,)) for n in range(10)]
for t in workers: t.start()
for t in workers: t.join()
print("queue", sorted(results.get() for _ in range(10)))
done = threading.Event(); cond = threading.Condition(); box = []
def producer():
    with cond:
        box.append("made"); cond.notify()
    done.set()
with cond:
    threading.Thread(target=producer).start()
    cond.wait_for(lambda: box, timeout=60)
print("condition", box, done.wait(60))
r = subprocess.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, text=True)
print("run", r.returncode, repr(r.stdout), repr(r.stderr))
p = subprocess.Popen(["sort", "-r"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
print("popen", p.communicate("b\na\nc\n")[0].split(), p.returncode)
print("check_output", subprocess.check_output("ls /etc/apt | wc -l", shell=True, text=True).strip())
print("pipeline", subprocess.run("seq 1 1000 | sha256sum", shell=True, capture_output=True, text=True).stdout.split()[0])
try:
    subprocess.run(["/nonexistent/program"])
except FileNotFoundError as error:
    print("missing program", error.errno, error.strerror)
print("timeout", subprocess.run(["sleep", "0.1"], timeout=60).returncode)
'
echo "python status $?"
python3 -u -c '
import ctypes, decimal, multiprocessing, os, select, shutil, signal, socket, ssl, tempfile, time, zlib
from zoneinfo import ZoneInfo
import datetime
print("zlib", zlib.crc32(zlib.decompress(zlib.compress(b"abc" * 10000, 9))), len(zlib.compress(b"abc" * 10000, 9)))
print("decimal", decimal.Decimal(1) / decimal.Decimal(7))
print("ssl", ssl.OPENSSL_VERSION.split()[0], ssl.HAS_TLSv1_3)
libc = ctypes.CDLL("libc.so.6")
print("ctypes", libc.abs(-42), libc.strlen(b"sandbox"))
print("zoneinfo", datetime.datetime(2024, 7, 1, 12, tzinfo=datetime.timezone.utc).astimezone(ZoneInfo("Europe/Paris")).isoformat())
with tempfile.TemporaryDirectory(dir="/tmp") as scratch:
    os.makedirs(os.path.join(scratch, "a/b"))
    with open(os.path.join(scratch, "a/b/f"), "w") as f:
        f.write("x" * 5000)
    shutil.copytree(os.path.join(scratch, "a"), os.path.join(scratch, "c"))
    print("copytree", sorted(os.listdir(os.path.join(scratch, "c/b"))), os.path.getsize(os.path.join(scratch, "c/b/f")))
    print("walk", sorted(len(files) for _, _, files in os.walk(scratch)))
a, b = socket.socketpair()
a.sendall(b"ping"); print("socketpair", b.recv(4))
r, w = os.pipe()
os.write(w, b"x"); print("select", select.select([r], [], [], 5)[0] == [r])
got = []
signal.signal(signal.SIGALRM, lambda signum, frame: got.append(signum))
signal.setitimer(signal.ITIMER_REAL, 0.05)
time.sleep(0.5)
print("alarm", got)
def square(n):
    return n * n
if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        print("pool", pool.map(square, range(8)))
    lock = multiprocessing.Lock(); value = multiprocessing.Value("i", 0)
    def add(lock, value):
        for _ in range(100):
            with lock:
                value.value += 1
    procs = [multiprocessing.Process(target=add, args=(lock, value)) for _ in range(3)]
    for p in procs: p.start()
    for p in procs: p.join()
    print("shared value", value.value, [p.exitcode for p in procs])
'
echo "python status $?"
"#;

/// The sqlite3 CLI with a database in WAL mode, on the overlay root (`/var/tmp`) and on
/// the 9p bind mount (`/rw`): created, updated, read by a second process holding a
/// snapshot while a third writes (the `-shm` index mapped shared by both, the write lock),
/// checkpointed, checked and dumped. FIFOs order the processes, so the output is the same
/// on every run; the reader's output goes to a file, read after it ends.
pub const SQLITE_WAL: &str = r#"exec 2>&1
mkfifo /tmp/ready /tmp/written
for dir in /var/tmp /rw; do
  db=$dir/wal.db
  echo "== $db"
  sqlite3 "$db" 'PRAGMA journal_mode=WAL;' \
    'CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);' \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) INSERT INTO t (v) SELECT printf('row %05d', x) FROM c;" \
    'CREATE INDEX t_v ON t (v);'
  echo "created: $?"
  sqlite3 "$db" 'PRAGMA journal_mode;' 'BEGIN;' "UPDATE t SET v = v || '!' WHERE k % 7 = 0;" 'COMMIT;' \
    'SELECT count(*), sum(k), min(v), max(v) FROM t;' "SELECT count(*) FROM t WHERE v LIKE '%!';"
  printf '%s\n' 'BEGIN;' 'SELECT count(*) FROM t;' '.system echo > /tmp/ready' \
    '.system cat /tmp/written' 'SELECT count(*) FROM t;' 'COMMIT;' 'SELECT count(*) FROM t;' |
    sqlite3 "$db" > /tmp/reader.out &
  read -r < /tmp/ready
  sqlite3 "$db" "INSERT INTO t (v) VALUES ('late');" 'SELECT count(*) FROM t;'
  ls "$dir" | grep '^wal\.db' | sort | tr '\n' ' '; echo
  echo > /tmp/written
  wait $!; echo "reader status $?: $(tr '\n' ' ' < /tmp/reader.out)"
  sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' 'PRAGMA integrity_check;' 'SELECT v FROM t ORDER BY k DESC LIMIT 2;'
  sqlite3 -readonly "$db" '.tables' '.schema t' 'SELECT count(*) FROM t;'
  sqlite3 "$db" .dump | sha256sum
  ls "$dir" | grep '^wal\.db' | sort | tr '\n' ' '; echo
done
echo "== done"
"#;
