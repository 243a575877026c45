// Package deploy holds what runs the workshop as several instances: the
// nginx configuration (nginx.conf, a load balancer and shared HTTP cache in
// front), the run-many script that starts it all, and NginxConfig, which
// renders the configuration for the tests and the bench exactly as the
// script does.
package deploy

import (
	_ "embed"
	"strings"
)

// nginxTemplate is nginx.conf with its placeholders.
//
//go:embed nginx.conf
var nginxTemplate string

// NginxConfig renders nginx.conf: run is the scratch folder (pid, logs,
// temp files, the cache), listen the address nginx listens on, upstreams
// the instances' host:port. asRoot adds "user root;", without which nginx
// started as root runs its workers as nobody, who cannot write run.
func NginxConfig(run, listen string, upstreams []string, asRoot bool) string {
	var ups strings.Builder
	for _, u := range upstreams {
		ups.WriteString("        server " + u + ";\n")
	}
	conf := strings.NewReplacer("@RUN@", run, "@LISTEN@", listen).Replace(nginxTemplate)
	conf = strings.Replace(conf, "\n@UPSTREAMS@\n", "\n"+ups.String(), 1)
	if asRoot {
		conf = "user root;\n" + conf
	}
	return conf
}
