// AssemblyInfo.cs - assembly attributes for the mcs build (the csproj generates
// its own and leaves this file out).

using System.Reflection;
using System.Runtime.CompilerServices;

[assembly: AssemblyTitle("Secucard.Connect")]
[assembly: AssemblyDescription("secucard connect client: .NET binding of libsecucard")]
[assembly: AssemblyVersion("0.1.0.0")]
[assembly: AssemblyInformationalVersion("0.1.0")]
// The tests check the error mapping and the JSON reader directly.
[assembly: InternalsVisibleTo("Secucard.Connect.Tests")]
