package main

import (
	"os"
	"runtime/pprof"
)

// startCPUProfile profiles the whole process until the returned function
// is called; read it with `go tool pprof -top file`.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
