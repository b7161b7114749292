package main

import "licensehooks/bench"

func runBench(args []string) error         { return bench.Main(args) }
func runBenchReceiver(args []string) error { return bench.ReceiverMain(args) }
