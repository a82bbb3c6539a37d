using BenchmarkDotNet.Running;

// GetExecutingAssembly, not typeof(Program): the host's own top-level Program is visible here (InternalsVisibleTo).
BenchmarkSwitcher.FromAssembly(System.Reflection.Assembly.GetExecutingAssembly()).Run(args);
