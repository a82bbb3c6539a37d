namespace Gateway.EndToEnd;
