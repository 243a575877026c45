package teacher

import (
	"net"
	"net/netip"
	"strings"
)

// classroom is the page's "classroom mode" line: where learners on other
// machines open the workshop, or why they cannot.
type classroom struct {
	// Listen is the listen address as configured (ADDR).
	Listen string
	// URLs are the addresses to give learners, best first; empty when
	// there are none.
	URLs []string
	// Loopback says the server listens on this machine's loopback only.
	Loopback bool
	// Wildcard says the server listens on every interface, so URLs are
	// this machine's interface addresses.
	Wildcard bool
	// Port is the port to suggest for a non-loopback ADDR.
	Port string
	// Err is why the interfaces could not be listed, if they could not.
	Err string
}

// classroomFor describes listen, with port being the port the server
// actually listens on (from the request; ADDR may say :0).
func classroomFor(listen, port string) classroom {
	return classroomAddresses(listen, port, net.InterfaceAddrs)
}

// classroomAddresses says where learners on other machines can reach a
// server listening on listen: that address itself when it is a specific
// non-loopback host, every non-loopback interface address of this machine
// when it is a wildcard ("", 0.0.0.0, ::), and nowhere when it is a
// loopback address or localhost. 0.0.0.0 listens on IPv4 only, so it
// lists IPv4 addresses only. Link-local addresses are left out: they need
// a zone and work on one network segment at most.
func classroomAddresses(listen, port string, ifaces func() ([]net.Addr, error)) classroom {
	c := classroom{Listen: listen}
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		host, p = listen, ""
	}
	if port == "" || port == "0" {
		port = p
	}
	if port == "" || port == "0" {
		port = "8080"
	}
	c.Port = port
	ip, ipErr := netip.ParseAddr(strings.Trim(host, "[]"))
	switch {
	case strings.EqualFold(host, "localhost") || (ipErr == nil && ip.IsLoopback()):
		c.Loopback = true
		return c
	case host == "" || (ipErr == nil && ip.IsUnspecified()):
		c.Wildcard = true
	default:
		c.URLs = []string{"http://" + net.JoinHostPort(strings.Trim(host, "[]"), port) + "/"}
		return c
	}
	onlyV4 := ipErr == nil && ip.Is4()
	addrs, err := ifaces()
	if err != nil {
		c.Err = err.Error()
		return c
	}
	var v4, v6 []string
	for _, a := range addrs {
		var ip netip.Addr
		switch a := a.(type) {
		case *net.IPNet:
			ip, _ = netip.AddrFromSlice(a.IP)
		case *net.IPAddr:
			ip, _ = netip.AddrFromSlice(a.IP)
		default:
			continue
		}
		ip = ip.Unmap()
		if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
			continue
		}
		u := "http://" + net.JoinHostPort(ip.String(), port) + "/"
		if ip.Is4() {
			v4 = append(v4, u)
		} else if !onlyV4 {
			v6 = append(v6, u)
		}
	}
	// IPv4 first: the address people type.
	c.URLs = append(v4, v6...)
	return c
}
