package main

import (
	"os"

	"licensehooks/internal/bench"
)

// runBench runs the benchmark; its help goes to stdout like every other
// command's.
func runBench(args []string) error {
	if helpRequested(args) {
		_, err := bench.ParseFlags(args, os.Stdout, os.Stdout)
		return err
	}
	return bench.Main(args)
}

func runBenchReceiver(args []string) error { return bench.ReceiverMain(args) }
