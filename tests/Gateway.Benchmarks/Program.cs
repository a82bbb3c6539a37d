using System.Reflection;
using BenchmarkDotNet.Running;

// GetExecutingAssembly, not typeof(Program): the host's own top-level Program is visible here too (CS0436).
BenchmarkSwitcher.FromAssembly(Assembly.GetExecutingAssembly()).Run(args);
