using Gateway.Sdk.Handlers;

namespace Gateway.Tests.Sdk;

public sealed class DatagramBatchTests
{
    [Fact]
    public void Enlist_NoBatchOpen_ReturnsFalse()
    {
        var participant = new Counting();

        Assert.False(DatagramBatch.IsOpen);
        Assert.False(DatagramBatch.Enlist(participant));
        Assert.Equal(0, participant.Flushes);
    }

    [Fact]
    public void End_EnlistedTwice_FlushedOnceAtTheEnd()
    {
        var participant = new Counting();

        using (DatagramBatch.Open())
        {
            Assert.True(DatagramBatch.Enlist(participant));
            Assert.True(DatagramBatch.Enlist(participant));
            Assert.Equal(0, participant.Flushes);
        }

        Assert.Equal(1, participant.Flushes);
        Assert.False(DatagramBatch.IsOpen);
    }

    [Fact]
    public void End_Nested_FlushesOnlyAtTheOutermostEnd()
    {
        var participant = new Counting();

        using (DatagramBatch.Open())
        {
            using (DatagramBatch.Open())
            {
                DatagramBatch.Enlist(participant);
            }

            Assert.Equal(0, participant.Flushes);
            Assert.True(DatagramBatch.IsOpen);
        }

        Assert.Equal(1, participant.Flushes);
    }

    [Fact]
    public void End_ParticipantThrows_OthersStillFlushedAndBatchClosed()
    {
        var failing = new Counting { Throw = true };
        var other = new Counting();

        Assert.Throws<InvalidOperationException>(() =>
        {
            using DatagramBatch.Scope batch = DatagramBatch.Open();
            DatagramBatch.Enlist(failing);
            DatagramBatch.Enlist(other);
        });

        Assert.Equal(1, other.Flushes);
        Assert.False(DatagramBatch.IsOpen);
    }

    [Fact]
    public void End_FlushEnlistsAnother_ItIsFlushedToo()
    {
        var second = new Counting();
        var first = new Counting { OnFlush = () => DatagramBatch.Enlist(second) };

        using (DatagramBatch.Open())
        {
            DatagramBatch.Enlist(first);
        }

        Assert.Equal(1, first.Flushes);
        Assert.Equal(1, second.Flushes);
    }

    private sealed class Counting : IDatagramBatchParticipant
    {
        public int Flushes;

        public bool Throw;

        public Action? OnFlush;

        public void FlushBatch()
        {
            Flushes++;
            OnFlush?.Invoke();
            if (Throw)
            {
                throw new InvalidOperationException("flush failed");
            }
        }
    }
}
