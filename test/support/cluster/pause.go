// The pod sandbox ("pause") process of the test cluster's pause image: it holds
// the pod's namespaces, reaps orphaned children, and exits at once on SIGTERM
// or SIGINT so that pods stop without waiting for a SIGKILL. Static, no cgo;
// built by test/support/k8s-setup.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
