package main

import (
	"net"
	"net/url"
)

// loopback reports a URL on this machine: load is never aimed elsewhere.
func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
