using System.Diagnostics.Metrics;
using System.Net;
using Gateway.Plugins.WireGuard.Configuration;
using Gateway.Plugins.WireGuard.Metrics;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.WireGuard;

public sealed class WireGuardMetricsTests
{
    [Fact]
    public void Observe_AfterHandshakeAndData_CountsHandshakesPerPeerBytesAndDrops()
    {
        var link = new DeviceLink(new FakeTime());
        using var meter = new Meter("Gateway.Plugins.wireguard.test");
        _ = new WireGuardMetrics(meter, link.B);
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        link.B.ReceiveDatagram(new byte[3], DeviceLink.AddressA.Serialize());

        Dictionary<string, long> values = Collect(meter);

        Assert.Equal(1, values["wireguard.handshakes|result=completed"]);
        string peer = link.PeerOfB.ShortKey;
        Assert.Equal(link.PeerOfB.RxBytes, values[$"wireguard.rx|peer={peer}"]);
        Assert.True(values[$"wireguard.rx.packets|peer={peer}"] >= 3);
        Assert.Equal(1, values["wireguard.dropped|reason=malformed"]);
        Assert.Equal(0, values["wireguard.cookie_replies|"]);
    }

    [Fact]
    public void TryResolve_HostNameAndPort_ResolvedOnceToAnAddress()
    {
        Assert.True(EndpointResolver.TryResolve("localhost:51820", out NetEndpoint endpoint, out string error), error);
        Assert.Equal(51820, endpoint.Port);
        Assert.True(IPAddress.IsLoopback(endpoint.ToIPEndPoint().Address));
        Assert.False(EndpointResolver.TryParseHostPort("bad_name:1", out _, out _));
        Assert.False(EndpointResolver.TryParseHostPort("host:0", out _, out _));
        Assert.False(EndpointResolver.TryResolve("no-such-host.invalid:51820", out _, out string why));
        Assert.Contains("no-such-host.invalid", why);
    }

    private static Dictionary<string, long> Collect(Meter meter)
    {
        var values = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name + "|" + (tags.Length == 0 ? "" : tags[0].Key + "=" + tags[0].Value);
            values[key] = value;
        });
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => values[instrument.Name + "|"] = value);
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }
}
