// Split DNS: names under corp.test go to the upstream group "corp"
// (defined under dns-dot.groups in gateway.yaml); everything else uses the default upstreams.
Forward("corp.test", group: "corp");

// Local answers (exact names): A for IPv4, AAAA for IPv6; several calls add addresses.
Answer("intranet.corp.test", "10.0.0.5", ttl: 300);
Answer("intranet.corp.test", "fd00::5", ttl: 300);
Answer("printer.home.test", "192.168.1.20");
