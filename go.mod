module github.com/phikit/phikit

go 1.26
