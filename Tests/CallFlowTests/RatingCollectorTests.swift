import CallFlow
import Testing

@Suite struct RatingCollectorTests {
    let prompt = SoundReference.uploaded(id: 7)
    let finish = SoundReference.builtIn(.ratingFinish)

    func collector(maxRate: Int = 5, finish: SoundReference? = .builtIn(.ratingFinish)) -> RatingCollector {
        var collector = RatingCollector(settings: .init(prompt: prompt, finish: finish, maxRate: maxRate))
        #expect(collector.handle(.start) == [.play(prompt), .offerRating], "the offer counts for the response rate")
        return collector
    }

    @Test func aValidKeyAfterThePromptIsStoredBeforeTheFinishSound() {
        var rating = collector()
        #expect(rating.handle(.playbackFinished) == [.startKeyTimer(.seconds(5))])
        #expect(rating.handle(.key("4")) == [.cancelKeyTimer, .storeRating(rate: 4, maxRate: 5)])
        #expect(rating.handle(.playbackFinished) == [], "nothing plays until storage confirms")
        #expect(rating.handle(.ratingStored) == [.play(finish)])
        #expect(rating.handle(.playbackFinished) == [.finished(.rated(4))])
        #expect(rating.isDone)
    }

    @Test func aKeyInterruptsThePrompt() {
        var rating = collector()
        #expect(rating.handle(.key("5")) == [.stopPlayback, .storeRating(rate: 5, maxRate: 5)])
    }

    @Test func theFirstValidKeyWins() {
        var rating = collector()
        _ = rating.handle(.key("2"))
        #expect(rating.handle(.key("5")) == [])
        #expect(rating.handle(.ratingStored) == [.play(finish)])
        #expect(rating.handle(.key("1")) == [])
        #expect(rating.handle(.playbackFinished) == [.finished(.rated(2))])
    }

    @Test(arguments: ["0", "6", "9", "*", "#"] as [Character])
    func anInvalidKeySaysSoAndReplaysThePrompt(key: Character) {
        var rating = collector()
        _ = rating.handle(.playbackFinished)
        #expect(rating.handle(.key(key)) == [.cancelKeyTimer, .play(.builtIn(.invalidKey))])
        #expect(rating.handle(.playbackFinished) == [.play(prompt)])
        #expect(rating.handle(.playbackFinished) == [.startKeyTimer(.seconds(5))])
        #expect(rating.handle(.key("3")) == [.cancelKeyTimer, .storeRating(rate: 3, maxRate: 5)])
    }

    @Test func maxRateBoundsTheValidKeys() {
        var nine = collector(maxRate: 9)
        #expect(nine.handle(.key("9")) == [.stopPlayback, .storeRating(rate: 9, maxRate: 9)])
        var three = collector(maxRate: 3)
        #expect(three.handle(.key("4")) == [.stopPlayback, .play(.builtIn(.invalidKey))])
    }

    @Test func silenceReplaysThePromptAndThreeTriesEndWithoutARating() {
        var rating = collector()
        for _ in 1..<3 {
            #expect(rating.handle(.playbackFinished) == [.startKeyTimer(.seconds(5))])
            #expect(rating.handle(.keyTimerFired) == [.play(prompt)])
        }
        #expect(rating.handle(.playbackFinished) == [.startKeyTimer(.seconds(5))])
        #expect(rating.handle(.keyTimerFired) == [.finished(.noValidKey)])
        #expect(rating.handle(.key("5")) == [])
    }

    @Test func invalidKeysAndSilenceCountTogether() {
        var rating = collector()
        _ = rating.handle(.key("#"))  // try 1: invalid
        _ = rating.handle(.playbackFinished)  // invalid-key prompt done → try 2 prompt
        _ = rating.handle(.playbackFinished)  // try 2 prompt done
        #expect(rating.handle(.keyTimerFired) == [.play(prompt)])  // try 3
        #expect(rating.handle(.key("7")) == [.stopPlayback, .finished(.noValidKey)])
    }

    @Test func hangingUpDuringThePromptEndsWithoutARating() {
        var rating = collector()
        #expect(rating.handle(.callerHungUp) == [.finished(.callerHungUp(ratedBefore: nil))])
        #expect(rating.handle(.key("5")) == [])
    }

    @Test func hangingUpWhileWaitingCancelsTheTimer() {
        var rating = collector()
        _ = rating.handle(.playbackFinished)
        #expect(rating.handle(.callerHungUp) == [.cancelKeyTimer, .finished(.callerHungUp(ratedBefore: nil))])
    }

    @Test func hangingUpDuringTheFinishSoundKeepsTheRating() {
        var rating = collector()
        _ = rating.handle(.key("5"))
        _ = rating.handle(.ratingStored)
        #expect(rating.handle(.callerHungUp) == [.finished(.callerHungUp(ratedBefore: 5))])
    }

    @Test func withoutAFinishSoundTheRatingEndsTheCollectionOnceStored() {
        var rating = collector(finish: nil)
        _ = rating.handle(.key("1"))
        #expect(rating.handle(.ratingStored) == [.finished(.rated(1))])
    }

    @Test func aStorageFailureIsNotARating() {
        var rating = collector()
        _ = rating.handle(.key("1"))
        #expect(rating.handle(.ratingFailed) == [.finished(.storageFailed)])
    }
}
