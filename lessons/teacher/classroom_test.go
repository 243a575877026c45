package teacher

import (
	"errors"
	"net"
	"slices"
	"testing"
)

func ipnet(s string) net.Addr {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

func TestClassroomAddresses(t *testing.T) {
	machine := []net.Addr{
		ipnet("127.0.0.1/8"), ipnet("::1/128"), ipnet("192.168.1.20/24"), ipnet("fe80::1/64"),
		ipnet("10.0.0.7/8"), ipnet("2001:db8::7/64"), &net.IPAddr{IP: net.ParseIP("172.16.0.9")},
	}
	all := []string{"http://192.168.1.20:8080/", "http://10.0.0.7:8080/", "http://172.16.0.9:8080/", "http://[2001:db8::7]:8080/"}
	tests := []struct {
		name, listen, port string
		want               []string
		loopback, wildcard bool
		wantPort           string
	}{
		{"loopback", "127.0.0.1:8080", "8080", nil, true, false, "8080"},
		{"other loopback", "127.0.0.2:9000", "9000", nil, true, false, "9000"},
		{"IPv6 loopback", "[::1]:8080", "8080", nil, true, false, "8080"},
		{"localhost", "localhost:8080", "8080", nil, true, false, "8080"},
		{"localhost any case", "LocalHost:8080", "8080", nil, true, false, "8080"},
		{"every interface", ":8080", "8080", all, false, true, "8080"},
		{"IPv6 wildcard", "[::]:8080", "8080", all, false, true, "8080"},
		{"IPv4 wildcard lists IPv4 only", "0.0.0.0:8080", "8080", all[:3], false, true, "8080"},
		{"one address", "192.168.1.20:8080", "8080", []string{"http://192.168.1.20:8080/"}, false, false, "8080"},
		{"one IPv6 address", "[2001:db8::7]:8080", "8080", []string{"http://[2001:db8::7]:8080/"}, false, false, "8080"},
		{"a machine name", "teacher-laptop.local:8080", "8080", []string{"http://teacher-laptop.local:8080/"}, false, false, "8080"},
		{"any free port: the actual one", "0.0.0.0:0", "41234", []string{"http://192.168.1.20:41234/", "http://10.0.0.7:41234/", "http://172.16.0.9:41234/"}, false, true, "41234"},
		{"port from the request unknown", ":9090", "", []string{"http://192.168.1.20:9090/", "http://10.0.0.7:9090/", "http://172.16.0.9:9090/", "http://[2001:db8::7]:9090/"}, false, true, "9090"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := classroomAddresses(tt.listen, tt.port, func() ([]net.Addr, error) { return machine, nil })
			if !slices.Equal(c.URLs, tt.want) || c.Loopback != tt.loopback || c.Wildcard != tt.wildcard || c.Port != tt.wantPort {
				t.Errorf("got urls %v loopback %v wildcard %v port %q, want %v, %v, %v, %q",
					c.URLs, c.Loopback, c.Wildcard, c.Port, tt.want, tt.loopback, tt.wildcard, tt.wantPort)
			}
			if c.Listen != tt.listen {
				t.Errorf("Listen: got %q, want %q", c.Listen, tt.listen)
			}
		})
	}
}

func TestClassroomNoInterfaces(t *testing.T) {
	c := classroomAddresses(":8080", "8080", func() ([]net.Addr, error) { return []net.Addr{ipnet("127.0.0.1/8")}, nil })
	if len(c.URLs) != 0 || !c.Wildcard || c.Err != "" {
		t.Errorf("loopback only: got %+v, want a wildcard with no URL", c)
	}
	c = classroomAddresses(":8080", "8080", func() ([]net.Addr, error) { return nil, errors.New("no netlink") })
	if len(c.URLs) != 0 || c.Err != "no netlink" {
		t.Errorf("interfaces failing: got %+v, want the error and no URL", c)
	}
}
