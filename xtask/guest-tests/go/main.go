// go-check DIR: a static Go program (CGO_ENABLED=0) using what Go's runtime and standard
// library need from the kernel: threads (GOMAXPROCS 4, goroutines locked to 4 OS threads
// at once), futexes, epoll (the network poller), signals (os/signal, and the runtime's own
// SIGURG preemption of a tight loop), timers, files, os/exec children, and Unix sockets
// (a net.Listen("unix") echo server with concurrent clients, a 1 MiB transfer, datagrams).
//
// The boot test compares what it prints in the sandbox with what the same binary prints on
// the host, so every line is deterministic: one `ok   NAME` per check (or `FAIL NAME:
// DETAIL`), then `go-check: N passed, M failed`. Exit status 0 only if every check passed.
// DIR (default /tmp) holds a scratch directory, removed at the end.
//
// `go-check --child MODE` is the child os/exec runs: `exit3`, `upper` (stdin to stdout in
// capitals, a line on stderr), `env` (prints GOCHECK_VALUE), `sigterm` (waits for SIGTERM).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const deadline = 60 * time.Second

var passed, failed int

func check(name string, ok bool, detail string, args ...interface{}) {
	if ok {
		passed++
		fmt.Printf("ok   %s\n", name)
	} else {
		failed++
		fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(detail, args...))
	}
}

func goroutinesAndChannels() {
	jobs := make(chan int)
	results := make(chan int)
	var workers sync.WaitGroup
	for w := 0; w < 100; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for job := range jobs {
				results <- job * job
			}
		}()
	}
	go func() {
		for job := 1; job <= 10000; job++ {
			jobs <- job
		}
		close(jobs)
	}()
	go func() {
		workers.Wait()
		close(results)
	}()
	var sum int64
	count := 0
	for square := range results {
		sum += int64(square)
		count++
	}
	check("100 goroutines square 1..10000 from one channel into another: 10000 results, sum 333383335000",
		count == 10000 && sum == 333383335000, "%d results, sum %d", count, sum)

	ping, pong := make(chan int), make(chan int)
	go func() {
		for value := range ping {
			pong <- value + 1
		}
		close(pong)
	}()
	value := 0
	for i := 0; i < 10000; i++ {
		ping <- value
		value = <-pong
	}
	close(ping)
	_, open := <-pong
	check("unbuffered ping-pong, 10000 round trips: 10000, then the channel closes", value == 10000 && !open,
		"value %d, still open %v", value, open)

	// Four goroutines, each locked to its own OS thread, all running at once.
	var arrived int32
	tids := make(chan int, 4)
	for i := 0; i < 4; i++ {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			atomic.AddInt32(&arrived, 1)
			start := time.Now()
			for atomic.LoadInt32(&arrived) < 4 && time.Since(start) < deadline {
				time.Sleep(time.Millisecond)
			}
			tids <- syscall.Gettid()
		}()
	}
	seen := map[int]bool{}
	for i := 0; i < 4; i++ {
		seen[<-tids] = true
	}
	check("4 goroutines locked to OS threads meet: 4 distinct thread ids", len(seen) == 4 && atomic.LoadInt32(&arrived) == 4,
		"%d distinct, %d arrived", len(seen), atomic.LoadInt32(&arrived))

	// Async preemption: with one P, a loop with no calls in it must be preempted (the
	// runtime's SIGURG to its thread) for the sleeping main goroutine to run again.
	previous := runtime.GOMAXPROCS(1)
	var stop, spins int64
	done := make(chan bool)
	go func() {
		for atomic.LoadInt64(&stop) == 0 {
			spins++
		}
		done <- true
	}()
	time.Sleep(20 * time.Millisecond)
	atomic.StoreInt64(&stop, 1)
	var finished bool
	select {
	case finished = <-done:
	case <-time.After(deadline):
	}
	runtime.GOMAXPROCS(previous)
	check("GOMAXPROCS(1): a goroutine spinning without calls is preempted so the sleeper runs", finished,
		"the spinner was never preempted")
}

func timers() {
	start := time.Now()
	time.Sleep(50 * time.Millisecond)
	slept := time.Since(start)
	check("time.Sleep(50ms) sleeps at least 50 ms", slept >= 50*time.Millisecond && slept < deadline, "%v", slept)

	order := make(chan int, 3)
	for _, ms := range []int{300, 100, 200} {
		ms := ms
		time.AfterFunc(time.Duration(ms)*time.Millisecond, func() { order <- ms })
	}
	got := []int{<-order, <-order, <-order}
	check("time.AfterFunc at 300, 100, 200 ms: they run shortest first", fmt.Sprint(got) == "[100 200 300]", "%v", got)

	timer := time.NewTimer(time.Hour)
	stopped := timer.Stop()
	select {
	case <-timer.C:
		stopped = false
	case <-time.After(60 * time.Millisecond):
	}
	check("a stopped timer: Stop reports it was active and it never fires", stopped, "it fired or was not active")

	start = time.Now()
	ticker := time.NewTicker(10 * time.Millisecond)
	for i := 0; i < 5; i++ {
		<-ticker.C
	}
	ticker.Stop()
	spent := time.Since(start)
	check("a 10 ms ticker: 5 ticks take at least 50 ms", spent >= 50*time.Millisecond && spent < deadline, "%v", spent)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start = time.Now()
	<-ctx.Done()
	check("context.WithTimeout(30ms): DeadlineExceeded after at least 30 ms",
		errors.Is(ctx.Err(), context.DeadlineExceeded) && time.Since(start) >= 25*time.Millisecond, "%v", ctx.Err())
}

func syncPrimitives() {
	var mutex sync.Mutex
	var group sync.WaitGroup
	var counter int
	var atomicCounter int64
	for g := 0; g < 8; g++ {
		group.Add(1)
		go func() {
			defer group.Done()
			for i := 0; i < 100000; i++ {
				mutex.Lock()
				counter++
				mutex.Unlock()
				atomic.AddInt64(&atomicCounter, 1)
			}
		}()
	}
	group.Wait()
	check("sync.Mutex and WaitGroup: 8 goroutines x 100000 increments give exactly 800000",
		counter == 800000 && atomic.LoadInt64(&atomicCounter) == 800000, "mutex %d, atomic %d", counter, atomicCounter)

	var lock sync.RWMutex
	var readersIn, most int32
	var readers sync.WaitGroup
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			lock.RLock()
			now := atomic.AddInt32(&readersIn, 1)
			for {
				old := atomic.LoadInt32(&most)
				if now <= old || atomic.CompareAndSwapInt32(&most, old, now) {
					break
				}
			}
			start := time.Now()
			for atomic.LoadInt32(&most) < 4 && time.Since(start) < deadline {
				time.Sleep(time.Millisecond)
			}
			atomic.AddInt32(&readersIn, -1)
			lock.RUnlock()
		}()
	}
	readers.Wait()
	check("sync.RWMutex: 4 readers inside at once", atomic.LoadInt32(&most) == 4, "at most %d", most)

	var once sync.Once
	var runs int32
	var callers sync.WaitGroup
	for c := 0; c < 8; c++ {
		callers.Add(1)
		go func() {
			defer callers.Done()
			once.Do(func() { atomic.AddInt32(&runs, 1) })
		}()
	}
	callers.Wait()
	check("sync.Once from 8 goroutines: runs once", runs == 1, "%d runs", runs)

	cond := sync.NewCond(&mutex)
	ready, woken := false, 0
	var waiters sync.WaitGroup
	for w := 0; w < 4; w++ {
		waiters.Add(1)
		go func() {
			defer waiters.Done()
			mutex.Lock()
			for !ready {
				cond.Wait()
			}
			woken++
			mutex.Unlock()
		}()
	}
	time.Sleep(10 * time.Millisecond)
	mutex.Lock()
	ready = true
	cond.Broadcast()
	mutex.Unlock()
	waiters.Wait()
	check("sync.Cond.Broadcast wakes 4 waiters", woken == 4, "%d woke", woken)

	// Garbage from 8 goroutines at once, with collections in between: what survives is intact.
	var allocators sync.WaitGroup
	sums := make([]uint64, 8)
	for g := 0; g < 8; g++ {
		allocators.Add(1)
		go func(g int) {
			defer allocators.Done()
			var keep [][]byte
			for i := 0; i < 100; i++ {
				block := make([]byte, 32<<10)
				for j := range block {
					block[j] = byte(i + j + g)
				}
				if i%10 == 0 {
					keep = append(keep, block)
				}
				if i%25 == 0 {
					runtime.GC()
				}
			}
			for _, block := range keep {
				for _, b := range block {
					sums[g] += uint64(b)
				}
			}
		}(g)
	}
	allocators.Wait()
	intact := true
	for g := 0; g < 8; g++ {
		var expected uint64
		for i := 0; i < 100; i += 10 {
			for j := 0; j < 32<<10; j++ {
				expected += uint64(byte(i + j + g))
			}
		}
		intact = intact && sums[g] == expected
	}
	check("25 MiB allocated by 8 goroutines with collections in between: the 2.5 MiB kept is intact", intact, "sums %v", sums)
}

func files(dir string) {
	names := []string{}
	for i := 19; i >= 0; i-- {
		name := fmt.Sprintf("file-%02d.txt", i)
		names = append(names, name)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat(name, i+1)), 0o644); err != nil {
			check("os.WriteFile of 20 files", false, "%v", err)
			return
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		check("os.Mkdir", false, "%v", err)
		return
	}
	entries, err := os.ReadDir(dir)
	var listed []string
	for _, entry := range entries {
		suffix := ""
		if entry.IsDir() {
			suffix = "/"
		}
		listed = append(listed, entry.Name()+suffix)
	}
	sort.Strings(names)
	expected := append(append([]string{}, names...), "sub/")
	check("os.ReadDir: 20 files and a directory, sorted by name", err == nil && fmt.Sprint(listed) == fmt.Sprint(expected),
		"%v %v", err, listed)
	contentsOK := true
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("file-%02d.txt", i)
		data, err := os.ReadFile(filepath.Join(dir, name))
		contentsOK = contentsOK && err == nil && string(data) == strings.Repeat(name, i+1)
	}
	check("each file reads back as written", contentsOK, "a file differed")

	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>12)
	}
	path := filepath.Join(dir, "sub", "big.bin")
	file, err := os.Create(path)
	if err == nil {
		writer := bufio.NewWriterSize(file, 100000)
		_, err = writer.Write(big)
		if err == nil {
			err = writer.Flush()
		}
		if err == nil {
			err = file.Sync()
		}
		file.Close()
	}
	back, readErr := os.ReadFile(path)
	check("a 4 MiB file written through bufio and fsync'd reads back with the same SHA-256",
		err == nil && readErr == nil && sha256.Sum256(back) == sha256.Sum256(big), "%v %v", err, readErr)
	renamed := filepath.Join(dir, "sub", "renamed.bin")
	err = os.Rename(path, renamed)
	_, oldErr := os.Stat(path)
	info, newErr := os.Stat(renamed)
	check("os.Rename: the old name is gone, the new one has the size", err == nil && errors.Is(oldErr, os.ErrNotExist) &&
		newErr == nil && info.Size() == 4<<20, "%v %v %v", err, oldErr, newErr)
}

func children(self string) {
	err := exec.Command(self, "--child", "exit3").Run()
	var exitErr *exec.ExitError
	check("os/exec: a child's exit status 3 comes back as an ExitError", errors.As(err, &exitErr) && exitErr.ExitCode() == 3,
		"%v", err)

	command := exec.Command(self, "--child", "upper")
	command.Stdin = strings.NewReader("hello from the parent\n")
	var stdout, stderr bytes.Buffer
	command.Stdout, command.Stderr = &stdout, &stderr
	err = command.Run()
	check("os/exec: stdin piped to a child, its stdout and stderr kept apart", err == nil &&
		stdout.String() == "HELLO FROM THE PARENT\n" && stderr.String() == "upper: 22 bytes\n",
		"%v %q %q", err, stdout.String(), stderr.String())

	command = exec.Command(self, "--child", "env")
	command.Env = []string{"GOCHECK_VALUE=forty-two"}
	output, err := command.Output()
	check("os/exec: the child gets the environment given", err == nil && string(output) == "forty-two\n", "%v %q", err, output)

	var group sync.WaitGroup
	outputs := make([]string, 8)
	for i := 0; i < 8; i++ {
		group.Add(1)
		go func(i int) {
			defer group.Done()
			command := exec.Command(self, "--child", "upper")
			command.Stdin = strings.NewReader(fmt.Sprintf("child %d\n", i))
			out, err := command.Output()
			if err != nil {
				outputs[i] = err.Error()
			} else {
				outputs[i] = string(out)
			}
		}(i)
	}
	group.Wait()
	allRight := true
	for i, out := range outputs {
		allRight = allRight && out == fmt.Sprintf("CHILD %d\n", i)
	}
	check("os/exec: 8 children started from 8 goroutines at once", allRight, "%q", outputs)

	command = exec.Command(self, "--child", "sigterm")
	pipe, _ := command.StdoutPipe()
	err = command.Start()
	if err != nil {
		check("a child that catches SIGTERM", false, "start: %v", err)
		return
	}
	reader := bufio.NewReader(pipe)
	line, _ := reader.ReadString('\n')
	signalled := command.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(reader)
	err = command.Wait()
	check("a child that catches SIGTERM with os/signal: told, it says so and exits 0",
		line == "ready\n" && signalled == nil && string(rest) == "got terminated\n" && err == nil,
		"%q %v %q %v", line, signalled, rest, err)

	command = exec.Command(self, "--child", "sigterm")
	pipe, _ = command.StdoutPipe()
	if command.Start() == nil {
		bufio.NewReader(pipe).ReadString('\n')
		command.Process.Kill()
		err = command.Wait()
		status, _ := command.ProcessState.Sys().(syscall.WaitStatus)
		check("a child killed with SIGKILL: Wait reports the signal", err != nil && status.Signaled() && status.Signal() == syscall.SIGKILL,
			"%v", err)
	}
}

func signals() {
	notified := make(chan os.Signal, 1)
	signal.Notify(notified, syscall.SIGUSR1)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	var got os.Signal
	select {
	case got = <-notified:
	case <-time.After(deadline):
	}
	check("os/signal: SIGUSR1 sent to ourselves arrives on the channel", got == syscall.SIGUSR1, "%v", got)
	signal.Stop(notified)

	// 50 signals, each sent once the previous one has arrived, while 4 goroutines spin: all
	// 50 arrive (none lost while the runtime's threads are busy).
	many := make(chan os.Signal, 1)
	signal.Notify(many, syscall.SIGUSR1)
	var busy sync.WaitGroup
	stop := int32(0)
	for i := 0; i < 4; i++ {
		busy.Add(1)
		go func() {
			defer busy.Done()
			x := 0
			for atomic.LoadInt32(&stop) == 0 {
				x++
			}
		}()
	}
	received := 0
	timeout := time.After(deadline)
wait:
	for received < 50 {
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		select {
		case <-many:
			received++
		case <-timeout:
			break wait
		}
	}
	atomic.StoreInt32(&stop, 1)
	busy.Wait()
	signal.Stop(many)
	check("50 SIGUSR1s, each after the last arrived, while 4 goroutines spin: all 50 arrive", received == 50,
		"%d arrived", received)
}

func echo(conn net.Conn) {
	defer conn.Close()
	io.Copy(conn, conn)
}

func unixSockets() {
	listener, err := net.Listen("unix", "echo.sock")
	if err != nil {
		check("net.Listen(\"unix\")", false, "%v", err)
		return
	}
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go echo(conn)
		}
	}()
	var clients sync.WaitGroup
	results := make([]string, 8)
	for c := 0; c < 8; c++ {
		clients.Add(1)
		go func(c int) {
			defer clients.Done()
			conn, err := net.Dial("unix", "echo.sock")
			if err != nil {
				results[c] = err.Error()
				return
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(deadline))
			total := 0
			for m := 0; m < 100; m++ {
				message := bytes.Repeat([]byte{byte(c + m)}, 1+(m*(c+1))%4000)
				if _, err := conn.Write(message); err != nil {
					results[c] = err.Error()
					return
				}
				back := make([]byte, len(message))
				if _, err := io.ReadFull(conn, back); err != nil || !bytes.Equal(back, message) {
					results[c] = fmt.Sprintf("message %d: %v", m, err)
					return
				}
				total += len(message)
			}
			results[c] = fmt.Sprint(total)
		}(c)
	}
	clients.Wait()
	allRight := true
	for c, result := range results {
		total := 0
		for m := 0; m < 100; m++ {
			total += 1 + (m*(c+1))%4000
		}
		allRight = allRight && result == fmt.Sprint(total)
	}
	check("net.Listen(\"unix\") echo server: 8 concurrent clients x 100 messages echoed whole", allRight, "%v", results)

	conn, err := net.Dial("unix", "echo.sock")
	if err == nil {
		conn.SetDeadline(time.Now().Add(deadline))
		big := make([]byte, 1<<20)
		for i := range big {
			big[i] = byte(i * 131 >> 7)
		}
		sum := make(chan [32]byte)
		go func() {
			hash := sha256.New()
			io.CopyN(hash, conn, int64(len(big)))
			var digest [32]byte
			copy(digest[:], hash.Sum(nil))
			sum <- digest
		}()
		_, err = conn.Write(big)
		got := <-sum
		check("1 MiB through the echo server comes back with the same SHA-256", err == nil && got == sha256.Sum256(big), "%v", err)
		conn.Close()
	}
	listener.Close()
	_, statErr := os.Stat("echo.sock")
	check("closing the listener removes its socket file", errors.Is(statErr, os.ErrNotExist), "%v", statErr)

	server, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "dgram.sock", Net: "unixgram"})
	if err != nil {
		check("net.ListenUnixgram", false, "%v", err)
		return
	}
	defer server.Close()
	client, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: "dgram.sock", Net: "unixgram"})
	if err != nil {
		check("net.DialUnix(\"unixgram\")", false, "%v", err)
		return
	}
	defer client.Close()
	var sizes []int
	for _, size := range []int{10, 1000, 1, 5000} {
		client.Write(make([]byte, size))
	}
	server.SetDeadline(time.Now().Add(deadline))
	buffer := make([]byte, 8192)
	for i := 0; i < 4; i++ {
		n, _, err := server.ReadFrom(buffer)
		if err != nil {
			break
		}
		sizes = append(sizes, n)
	}
	check("unixgram: 10, 1000, 1 and 5000 bytes arrive as four datagrams of those sizes", fmt.Sprint(sizes) == "[10 1000 1 5000]",
		"%v", sizes)
}

func child(mode string) {
	switch mode {
	case "exit3":
		os.Exit(3)
	case "upper":
		input, _ := io.ReadAll(os.Stdin)
		fmt.Print(strings.ToUpper(string(input)))
		fmt.Fprintf(os.Stderr, "upper: %d bytes\n", len(input))
	case "env":
		fmt.Println(os.Getenv("GOCHECK_VALUE"))
	case "sigterm":
		terminated := make(chan os.Signal, 1)
		signal.Notify(terminated, syscall.SIGTERM)
		fmt.Println("ready")
		select {
		case <-terminated:
			fmt.Println("got terminated")
		case <-time.After(deadline):
			fmt.Println("no SIGTERM")
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		os.Exit(2)
	}
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "--child" {
		child(os.Args[2])
		return
	}
	base := "/tmp"
	if len(os.Args) == 2 {
		base = os.Args[1]
	}
	runtime.GOMAXPROCS(4)
	dir := filepath.Join(base, fmt.Sprintf("go-check.%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Printf("FAIL scratch directory: %v\n", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	goroutinesAndChannels()
	timers()
	syncPrimitives()
	files(dir)
	children(os.Args[0])
	signals()
	if err := os.Chdir(dir); err == nil {
		unixSockets()
	} else {
		check("chdir to the scratch directory", false, "%v", err)
	}
	fmt.Printf("go-check: %d passed, %d failed\n", passed, failed)
	os.RemoveAll(dir)
	if failed > 0 {
		os.Exit(1)
	}
}
