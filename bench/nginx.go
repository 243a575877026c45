package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"cacheworkshop/deploy"
)

// nginxProxy is nginx with deploy/nginx.conf in front of the app, for the
// row that measures what the proxy hop costs a memory hit.
type nginxProxy struct {
	addr string
	cmd  *exec.Cmd
}

// startNginx runs nginx in front of upstream, or says why it cannot.
func startNginx(tmp, upstream string) (*nginxProxy, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			return nil, fmt.Errorf("nginx is not installed (apt-get install nginx)")
		}
		bin = "/usr/sbin/nginx"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	run := filepath.Join(tmp, "nginx")
	if err := os.MkdirAll(filepath.Join(run, "cache"), 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(run, "nginx.conf")
	if err := os.WriteFile(conf, []byte(deploy.NginxConfig(run, addr, []string{upstream}, os.Geteuid() == 0)), 0o644); err != nil {
		return nil, err
	}
	// The bench measures the proxy, not its access log.
	cmd := exec.Command(bin, "-p", run, "-c", conf, "-e", filepath.Join(run, "error.log"))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &nginxProxy{addr: addr, cmd: cmd}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r, err := http.Get("http://" + addr + "/static/favicon.svg"); err == nil {
			_ = r.Body.Close()
			return n, nil
		}
	}
	n.stop()
	return nil, fmt.Errorf("nginx did not answer at %s", addr)
}

func (n *nginxProxy) stop() {
	_ = n.cmd.Process.Signal(os.Interrupt)
	_ = n.cmd.Wait()
}
