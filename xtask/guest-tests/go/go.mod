// go-check: the Go side of issue 13's boot tests (the standard library only; built by
// xtask with CGO_ENABLED=0 as a static binary).
module sandbox.test/gocheck

go 1.19
