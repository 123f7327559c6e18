package testserver

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const (
	// integrationEnv names the environment variable that, set to "1", turns a skip for
	// a missing server binary into a test failure.
	integrationEnv = "PHIKIT_INTEGRATION"

	// startAttempts bounds the retries when a server loses its port to another process
	// between freePort and the server binding it.
	startAttempts = 5
	// readyTimeout is the overall deadline for a server to start and answer.
	readyTimeout = 15 * time.Second
	// pollInterval is the pause between readiness probes.
	pollInterval = 20 * time.Millisecond
	// logTailBytes is how much of a server log a startup failure message quotes.
	logTailBytes = 4096
)

// need returns the path of binary looked up on PATH. When binary is missing it calls
// skipOrFail with a message naming installCmd, so the test does not continue.
func need(t testing.TB, binary, installCmd string) string {
	t.Helper()
	path, err := exec.LookPath(binary)
	if err != nil {
		skipOrFail(t, fmt.Sprintf("%s not found on PATH; install it with: %s", binary, installCmd))
	}
	return path
}

// skipOrFail stops the test because a server it needs is unavailable: it skips the
// test, or fails it when PHIKIT_INTEGRATION=1. The message is the same either way.
func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	msg = "testserver: " + msg
	if os.Getenv(integrationEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process
// may take it before the server binds it, so callers retry on "address in use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

// logTail returns the last logTailBytes of the file at path from offset on, for
// startup failure messages. It never fails: a read error is described in the result.
func logTail(path string, offset int64) string {
	f, err := os.Open(path) // #nosec G304 -- a server log in the test's own temp dir
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > logTailBytes {
		offset = fi.Size() - logTailBytes
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return s
	}
	return "(log is empty)"
}

// fileSize returns the size of the file at path, or 0 when it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// process is a server process started by [launch].
type process struct {
	pid int
	// exited is closed when the process has exited.
	exited <-chan struct{}
	// stop kills the process, if it still runs, and waits until it has exited. It may
	// be called more than once.
	stop func()
}

// launch starts cmd with its standard output and error in a new file at logPath, and
// stops the process in t.Cleanup, registered before the caller waits for the server,
// so the process is stopped even if the test stops while it is starting. cmd.SysProcAttr
// is set to [sysProcAttr](nil).
func launch(t testing.TB, cmd *exec.Cmd, logPath string) (*process, error) {
	logFile, err := os.Create(logPath) // #nosec G304 -- a path in the test's own temp dir
	if err != nil {
		return nil, fmt.Errorf("create log file: %w", err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr(nil)
	err = cmd.Start()
	_ = logFile.Close() // the child holds its own descriptor
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p := &process{
		pid:    cmd.Process.Pid,
		exited: exited,
		stop: func() {
			_ = cmd.Process.Kill() // fails harmlessly when the process has already exited
			<-exited
		},
	}
	t.Cleanup(p.stop)
	return p, nil
}

// osUser is the OS account that runs a server process; a nil *osUser means the
// account running the test.
type osUser struct {
	name     string
	uid, gid int
}
