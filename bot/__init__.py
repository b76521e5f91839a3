"""OpenTrain co-sign bot: gets OpenTrain approval links in front of the right humans in Slack."""
