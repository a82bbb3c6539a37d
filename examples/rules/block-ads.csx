// Block ads and trackers: NXDOMAIN for each name and all of its subdomains.
// "ads.example.test" also blocks "x.ads.example.test", but not "xads.example.test".
Block("ads.example.test", "tracker.test", "telemetry.example.test");

// A hosts file or a plain list of names, next to this script (read at load time;
// editing it reloads the rules).
BlockList("blocklist.txt");

// REFUSED instead of NXDOMAIN, for names that should never be asked here.
Refuse("internal.test");
