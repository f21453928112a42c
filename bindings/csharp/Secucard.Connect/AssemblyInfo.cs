// AssemblyInfo.cs - assembly attributes for the mcs build (the csproj generates
// its own and leaves this file out).

using System.Reflection;
using System.Runtime.CompilerServices;

[assembly: AssemblyTitle("Secucard.Connect")]
[assembly: AssemblyDescription("secucard connect client: .NET binding of libsecucard")]
// The version attributes come from include/secucard.h: the Makefile writes
// them into build/csharp/Version.cs, the csproj generates its own.
// The tests check the error mapping and the JSON reader directly.
[assembly: InternalsVisibleTo("Secucard.Connect.Tests")]
