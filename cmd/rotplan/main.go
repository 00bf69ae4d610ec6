package main

import "os"

func main() {
	_ = newRegistry()
	os.Exit(0)
}
