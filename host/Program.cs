Console.Error.WriteLine("gateway: not yet implemented");
return 1;
