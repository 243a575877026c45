// Command cacheworkshop serves the Cache Workshop: a product catalogue whose
// every page can be served with no cache, from an in-process memory cache,
// or from Redis, with real measured timings.
//
// Configuration comes from environment variables, each with a matching flag
// that wins over it; run with -h to see them all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"cacheworkshop/app"
)

func main() {
	start := time.Now()
	cfg, err := app.ParseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cacheworkshop:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		log.Error("cacheworkshop could not start", "err", err)
		os.Exit(1)
	}
	log.Info("ready", "started_in", time.Since(start).Round(time.Millisecond))
	err = a.Run(ctx)
	a.Close()
	if err != nil {
		log.Error("cacheworkshop stopped", "err", err)
		os.Exit(1)
	}
}
