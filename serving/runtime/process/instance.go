package process

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
)

// proc is one incarnation of an instance: a running process.
type proc struct {
	cmd     *exec.Cmd
	port    int
	addr    string
	env     []string
	dir     string
	started time.Time
	exited  chan struct{} // closed when the process has exited and been waited for
	drained chan struct{} // closed when its output pipe is closed and read
}

// supervise runs an instance until it is stopped: it waits for the revision's executable,
// starts the process, probes it, restarts it with backoff when it exits, and stops it.
func (r *Runtime) supervise(in *instance) {
	defer r.wg.Done()
	defer r.finish(in)
	rev := in.rev
	select {
	case <-rev.ready:
	case <-in.stop:
		return
	}
	if rev.fail != nil { // its state says why; nothing to run
		<-in.stop
		return
	}

	tmp, err := os.MkdirTemp("", "eddy-"+in.id+"-")
	if err != nil {
		tmp = ""
		in.log.Warn("no temporary directory for the instance", "err", err)
	} else {
		defer os.RemoveAll(tmp)
	}
	cgDir := ""
	if r.cg != nil {
		if cgDir, err = r.cg.create(rev.spec.Key, in.id, rev.plan.limits); err != nil {
			in.log.Warn("cannot make the instance's cgroup: its limits are not enforced", "err", err)
			cgDir = ""
		} else {
			defer r.cg.remove(cgDir)
		}
	}

	backoff := r.cfg.RestartBackoff
	crashes := 0
	for restarts := 0; ; restarts++ {
		var ran time.Duration
		p, err := r.start(in, tmp, cgDir, restarts)
		if err != nil {
			in.log.Warn("instance did not start", "err", err)
			r.setState(in, func(s *runtime.Instance) {
				s.Phase, s.Address, s.Reason, s.Message, s.Restarts = runtime.Failed, "", ReasonStartError, err.Error(), restarts
			})
		} else {
			if r.run(in, p) {
				r.terminate(in, p)
				return
			}
			ran = time.Since(p.started)
			killGroup(p.cmd.Process, true) // whatever it started
			r.freePort(p.port)
			waitDrained(p, 100*time.Millisecond) // for the last log line
			reason, msg := exitReason(p.cmd.ProcessState)
			if last := in.logs.last(1); len(last) == 1 {
				msg += "; last log line: " + last[0]
			}
			in.log.Info("instance exited", "reason", reason, "message", msg, "ran", ran.Round(time.Millisecond))
			r.setState(in, func(s *runtime.Instance) {
				s.Phase, s.Address, s.Reason, s.Message = runtime.Failed, "", reason, msg
			})
		}
		if ran >= backoff.Reset {
			crashes = 0
		}
		crashes++
		t := time.NewTimer(backoff.delay(crashes))
		select {
		case <-t.C:
		case <-in.stop:
			t.Stop()
			return
		}
	}
}

// waitDrained waits up to d for p's output to be read to its end.
func waitDrained(p *proc, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.drained:
	case <-t.C:
	}
}

// setState changes in's state with f, unless it is stopping, and notifies watchers.
func (r *Runtime) setState(in *instance, f func(*runtime.Instance)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in.stopping {
		return
	}
	f(&in.state)
	r.notify()
}

// finish takes a stopped instance out of its revision.
func (r *Runtime) finish(in *instance) {
	r.mu.Lock()
	rev := in.rev
	if i := slices.Index(rev.instances, in); i >= 0 {
		rev.instances = slices.Delete(rev.instances, i, i+1)
	}
	r.notify()
	r.mu.Unlock()
	close(in.done)
	in.log.Debug("instance gone")
}

// start starts an incarnation of in, with a new port, in the instance's temporary directory
// (or the container's workingDir) and cgroup.
func (r *Runtime) start(in *instance, tmp, cgDir string, restarts int) (*proc, error) {
	rev := in.rev
	port, err := r.allocPort()
	if err != nil {
		return nil, err
	}
	p := &proc{port: port, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), exited: make(chan struct{}), drained: make(chan struct{})}
	p.env, p.dir = r.environ(rev, port), rev.plan.workDir
	if p.dir == "" {
		p.dir = tmp
	}
	lookup := envLookup(p.env)
	path := expand(rev.plan.path, lookup)
	args := make([]string, len(rev.plan.args))
	for i, a := range rev.plan.args {
		args[i] = expand(a, lookup)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		r.freePort(port)
		return nil, err
	}
	newCmd := func() *exec.Cmd {
		cmd := exec.Command(path, args...)
		cmd.Env, cmd.Dir = p.env, p.dir
		cmd.Stdout, cmd.Stderr = pw, pw
		return cmd
	}
	p.cmd = newCmd()
	err = r.startIn(in, p, newCmd, cgDir)
	pw.Close()
	if err != nil {
		pr.Close()
		r.freePort(port)
		return nil, err
	}
	p.started = time.Now()
	go pump(pr, in.logs, in.log, p.drained)
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	in.log.Debug("instance started", "pid", p.cmd.Process.Pid, "port", port, "restarts", restarts, "path", filepath.Base(path))
	r.setState(in, func(s *runtime.Instance) {
		s.Phase, s.Address, s.Started, s.Restarts = runtime.Starting, "", p.started, restarts
		if restarts == 0 { // after a restart, Reason and Message say why it exited until it is Ready
			s.Reason, s.Message = "", ""
		}
	})
	return p, nil
}

// startIn starts p.cmd in the cgroup cgDir, if any. Where the kernel cannot start a process
// in a cgroup (no clone3), it starts it outside and moves it in.
func (r *Runtime) startIn(in *instance, p *proc, newCmd func() *exec.Cmd, cgDir string) error {
	if cgDir == "" {
		return r.spawner.start(p.cmd, -1)
	}
	f, err := openCgroup(cgDir)
	if err == nil {
		err = r.spawner.start(p.cmd, int(f.Fd()))
		f.Close()
		if err == nil {
			return nil
		}
	}
	in.log.Debug("cannot start the instance in its cgroup; moving it in after the start", "err", err)
	p.cmd = newCmd()
	if err := r.spawner.start(p.cmd, -1); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(cgDir, "cgroup.procs"), strconv.Itoa(p.cmd.Process.Pid)); err != nil {
		in.log.Warn("cannot move the instance into its cgroup: its limits are not enforced", "err", err)
	}
	return nil
}

// environ is an instance's environment: the variables of Config.InheritEnv, the container's
// env ($(VAR) references expanded) and PORT, K_SERVICE, K_REVISION and K_CONFIGURATION, which
// override the container's.
func (r *Runtime) environ(rev *revision, port int) []string {
	var names []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			names = append(names, k)
		}
		vals[k] = v
	}
	for _, k := range r.cfg.InheritEnv {
		if v, ok := os.LookupEnv(k); ok {
			set(k, v)
		}
	}
	own := [][2]string{
		{"PORT", strconv.Itoa(port)},
		{"K_SERVICE", rev.spec.Service},
		{"K_REVISION", rev.spec.Key.Name},
		{"K_CONFIGURATION", rev.spec.Configuration},
	}
	defined := map[string]string{}
	for _, kv := range own {
		defined[kv[0]] = kv[1]
	}
	lookup := func(k string) (string, bool) { v, ok := defined[k]; return v, ok }
	for _, e := range rev.plan.env {
		v := expand(e.Value, lookup)
		defined[e.Name] = v
		set(e.Name, v)
	}
	for _, kv := range own {
		set(kv[0], kv[1])
	}
	env := make([]string, len(names))
	for i, k := range names {
		env[i] = k + "=" + vals[k]
	}
	return env
}

// envLookup looks a variable up in an environment list.
func envLookup(env []string) func(string) (string, bool) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				m[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// run probes p until it exits (false) or the instance is to stop (true). Until the first
// success it probes every millisecond for 100ms, then backs off, doubling, to the probe's
// period (at most 1s); once Ready, it probes every period.
func (r *Runtime) run(in *instance, p *proc) (stopped bool) {
	spec := in.rev.plan.probe
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	go func() {
		select {
		case <-p.exited:
		case <-in.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	const fast, fastFor = time.Millisecond, 100 * time.Millisecond
	interval := fast
	ready, wasReady := false, false
	succ, fails := 0, 0
	t := time.NewTimer(spec.initialDelay)
	defer t.Stop()
	for {
		select {
		case <-p.exited:
			return false
		case <-in.stop:
			return true
		case <-t.C:
		}
		err := r.probe(ctx, spec, p)
		select {
		case <-p.exited:
			return false
		case <-in.stop:
			return true
		default:
		}
		if err == nil {
			succ, fails = succ+1, 0
		} else {
			succ, fails = 0, fails+1
		}
		switch {
		case !ready && succ >= spec.success:
			ready, wasReady = true, true
			in.log.Debug("instance ready", "after", time.Since(p.started).Round(time.Microsecond))
			r.setState(in, func(s *runtime.Instance) {
				s.Phase, s.Address, s.Reason, s.Message = runtime.Ready, p.addr, "", ""
			})
		case ready && fails >= spec.failure:
			ready = false
			in.log.Info("instance not ready: readiness probe failed", "err", err)
			r.setState(in, func(s *runtime.Instance) {
				s.Phase, s.Reason, s.Message = runtime.Starting, ReasonProbeFailed, "readiness probe failed: "+err.Error()
			})
		}
		switch {
		case wasReady:
			t.Reset(spec.period)
		case time.Since(p.started) < fastFor:
			t.Reset(fast)
		default:
			interval = min(interval*2, spec.period, time.Second)
			t.Reset(interval)
		}
	}
}

// terminate stops p: Drain, SIGTERM to its process group, SIGKILL at the end of the grace
// period (or at once if the instance is to be killed).
func (r *Runtime) terminate(in *instance, p *proc) {
	defer r.freePort(p.port)
	grace := r.cfg.StopGracePeriod
	deadline := time.Now().Add(grace)
	if r.cfg.Drain != nil {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		go func() {
			select {
			case <-in.kill:
			case <-ctx.Done():
			case <-p.exited:
			}
			cancel()
		}()
		r.cfg.Drain(ctx, in.rev.spec.Key, in.id)
		cancel()
	}
	in.log.Debug("stopping instance")
	killGroup(p.cmd.Process, false)
	wait := max(time.Until(deadline), min(2*time.Second, grace))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-in.kill:
	case <-t.C:
		in.log.Info("instance did not stop within the grace period: killing it", "grace", grace)
	}
	killGroup(p.cmd.Process, true)
	<-p.exited
}
