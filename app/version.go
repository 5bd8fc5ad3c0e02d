package app

// Version is the build's version, set with -ldflags "-X github.com/technifold/technifold/app.Version=…".
var Version = "dev"
