using System.Reflection;
using BenchmarkDotNet.Running;

// Not typeof(Program): the referenced host exe has a Program type too (CS0436).
BenchmarkSwitcher.FromAssembly(Assembly.GetExecutingAssembly()).Run(args);
