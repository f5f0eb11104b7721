package factory

// TestPollIntervalFor exposes testPollInterval to the external tests.
var TestPollIntervalFor = testPollInterval
