// Events.cs - the .NET shapes of the library's event JSON, log lines and
// credential prompts. Each keeps the original JSON (Json) so that a field the
// library adds later is never out of reach.

using System;
using System.Collections.Generic;

namespace Secucard.Connect
{
    /// <summary>Log levels (SECUCARD_LOG_*).</summary>
    public enum LogLevel
    {
        /// <summary>No logging.</summary>
        Off = 0,
        /// <summary>Failures.</summary>
        Error = 1,
        /// <summary>Problems the library worked around.</summary>
        Warn = 2,
        /// <summary>Lifecycle (client created, opened, closed) and one line per call.</summary>
        Info = 3,
        /// <summary>Details of requests and token handling.</summary>
        Debug = 4,
        /// <summary>Everything.</summary>
        Trace = 5,
    }

    /// <summary>Any event, as the library delivered it (raised for every kind, including kinds added later).</summary>
    public class SecucardEventArgs : EventArgs
    {
        /// <summary>"push", "connection", "auth", "dropped", "error", or a kind added later.</summary>
        public string Kind { get; private set; }
        /// <summary>The event JSON.</summary>
        public string Json { get; private set; }
        internal SecucardEventArgs(string kind, string json) { Kind = kind; Json = json; }
    }

    /// <summary>A push event: pushed over STOMP or handed in with HandleEvent (webhook).</summary>
    public class PushEventArgs : EventArgs
    {
        /// <summary>The event id, e.g. "EPS_..." (may be empty).</summary>
        public string Id { get; private set; }
        /// <summary>The resource the event is about, e.g. "general.notifications".</summary>
        public string Target { get; private set; }
        /// <summary>The event type, e.g. "display" or "changed".</summary>
        public string Type { get; private set; }
        /// <summary>When the server created the event, as sent (may be empty).</summary>
        public string Created { get; private set; }
        /// <summary>The event's data as JSON text ("null" when it has none).</summary>
        public string DataJson { get; private set; }
        /// <summary>The whole event JSON.</summary>
        public string Json { get; private set; }

        internal PushEventArgs(Dictionary<string, object> o, Dictionary<string, string> raw, string json)
        {
            Id = Connect.Json.Str(o, "id") ?? "";
            Target = Connect.Json.Str(o, "target") ?? "";
            Type = Connect.Json.Str(o, "type") ?? "";
            Created = Connect.Json.Str(o, "created") ?? "";
            string d;
            DataJson = raw.TryGetValue("data", out d) ? d : "null";
            Json = json;
        }
    }

    /// <summary>The STOMP connection changed state.</summary>
    public class ConnectionStateEventArgs : EventArgs
    {
        /// <summary>"connected", "disconnected" or "reconnecting".</summary>
        public string State { get; private set; }
        /// <summary>Why, when the library says (may be empty).</summary>
        public string Reason { get; private set; }
        /// <summary>
        /// True on "connected" after a reconnect: pushes sent while the connection was down are
        /// lost (delivery is at most once), so re-read what you watch.
        /// </summary>
        public bool Resync { get; private set; }
        /// <summary>The event JSON.</summary>
        public string Json { get; private set; }
        internal ConnectionStateEventArgs(string state, string reason, bool resync, string json)
        {
            State = state; Reason = reason ?? ""; Resync = resync; Json = json;
        }
    }

    /// <summary>Authentication progressed.</summary>
    public class AuthStatusEventArgs : EventArgs
    {
        /// <summary>"device_code", "pending", "ok", "failed", "canceled" or "refreshed".</summary>
        public string State { get; private set; }
        /// <summary>The grant, e.g. "device" (may be empty).</summary>
        public string Grant { get; private set; }
        /// <summary>The failure for "failed" and "canceled" states; otherwise null.</summary>
        public SecucardException Error { get; private set; }
        /// <summary>The event JSON.</summary>
        public string Json { get; private set; }
        internal AuthStatusEventArgs(string state, string grant, SecucardException error, string json)
        {
            State = state; Grant = grant ?? ""; Error = error; Json = json;
        }
    }

    /// <summary>
    /// A device code was issued: show <see cref="UserCode"/> and
    /// <see cref="VerificationUrl"/> to the person who approves the till.
    /// </summary>
    public class DeviceCodeEventArgs : EventArgs
    {
        /// <summary>The code the person types in, e.g. "vfazyp5f".</summary>
        public string UserCode { get; private set; }
        /// <summary>Where the person approves the code.</summary>
        public string VerificationUrl { get; private set; }
        /// <summary>How long the code is valid.</summary>
        public TimeSpan ExpiresIn { get; private set; }
        /// <summary>How often the library polls for approval.</summary>
        public TimeSpan Interval { get; private set; }
        /// <summary>The event JSON.</summary>
        public string Json { get; private set; }
        internal DeviceCodeEventArgs(string userCode, string url, long expiresIn, long interval, string json)
        {
            UserCode = userCode ?? ""; VerificationUrl = url ?? "";
            ExpiresIn = TimeSpan.FromSeconds(expiresIn); Interval = TimeSpan.FromSeconds(interval); Json = json;
        }
    }

    /// <summary>A failure in the background that no caller is waiting for (kind "error").</summary>
    public class SecucardErrorEventArgs : EventArgs
    {
        /// <summary>The failure.</summary>
        public SecucardException Error { get; private set; }
        /// <summary>The event JSON.</summary>
        public string Json { get; private set; }
        internal SecucardErrorEventArgs(SecucardException error, string json) { Error = error; Json = json; }
    }

    /// <summary>One redacted log line.</summary>
    public class LogEventArgs : EventArgs
    {
        /// <summary>The line's level.</summary>
        public LogLevel Level { get; private set; }
        /// <summary>The line (the library removed secrets and card numbers).</summary>
        public string Message { get; private set; }
        internal LogEventArgs(LogLevel level, string message) { Level = level; Message = message; }
    }

    /// <summary>The library asks for credentials the config does not hold.</summary>
    public class CredentialRequest
    {
        /// <summary>The grant the credentials are for, e.g. "appuser" or "client_credentials".</summary>
        public string Grant { get; private set; }
        /// <summary>The credential fields needed, e.g. ["username", "password"].</summary>
        public IList<string> Fields { get; private set; }
        /// <summary>Why they are needed (may be empty).</summary>
        public string Reason { get; private set; }
        /// <summary>The request JSON.</summary>
        public string Json { get; private set; }

        internal CredentialRequest(string json)
        {
            Json = json;
            var fields = new List<string>();
            Dictionary<string, object> o = null;
            try { o = Connect.Json.Parse(json) as Dictionary<string, object>; }
            catch (FormatException) { }
            Grant = Connect.Json.Str(o, "grant") ?? "";
            Reason = Connect.Json.Str(o, "reason") ?? "";
            object f;
            if (o != null && o.TryGetValue("fields", out f) && f is List<object>)
                foreach (var x in (List<object>)f)
                    if (x is string) fields.Add((string)x);
            Fields = fields.AsReadOnly();
        }
    }
}
