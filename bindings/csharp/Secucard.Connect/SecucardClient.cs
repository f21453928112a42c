// SecucardClient.cs - one libsecucard client: lifecycle, calls, async calls,
// events, credential/storage/log callbacks.
//
// Everything here forwards to the C ABI (include/secucard.h); no protocol logic
// lives in the binding. The native callbacks are static methods held in static
// readonly fields, so the function pointers the library keeps can never be
// collected; each receives the owning client (or a pending async call) through a
// GCHandle passed as user_data.

using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Secucard.Connect
{
    /// <summary>
    /// A secucard connect client. Create it from a config JSON object (see the C
    /// header or README for the keys), subscribe to its events, call <see cref="Open"/>
    /// (device and app-user grants need it; client credentials authenticate on first
    /// use), make calls, and <see cref="Dispose"/> it when the till shuts down.
    /// </summary>
    /// <remarks>
    /// Every member may be used from any thread. Events are raised on threads the
    /// library creates, one at a time per client and in order; an exception thrown by
    /// a handler is caught and reported through <see cref="LogReceived"/> and
    /// <see cref="System.Diagnostics.Trace"/>, never passed to native code.
    /// <para><see cref="Close"/> closes the connection (later calls throw
    /// <see cref="ClosedException"/>); <see cref="Dispose"/> also releases the native
    /// client (later calls throw <see cref="ObjectDisposedException"/>). A client that
    /// is never disposed is kept alive until the process ends, because the library
    /// holds a reference to it for its callbacks.</para>
    /// </remarks>
    public sealed class SecucardClient : IDisposable
    {
        // The native callbacks. Static readonly: alive for as long as the AppDomain,
        // i.e. longer than any client whose native side may call them.
        static readonly Native.EventCallback EventCb = OnEvent;
        static readonly Native.CallCallback CallCb = OnCallComplete;
        static readonly Native.CredentialsCallback CredentialsCb = OnCredentials;
        static readonly Native.StoreGetCallback StoreGetCb = OnStoreGet;
        static readonly Native.StorePutCallback StorePutCb = OnStorePut;
        static readonly Native.StoreDelCallback StoreDelCb = OnStoreDel;
        static readonly Native.LogCallback LogCb = OnLog;

        // The client whose native callback runs on this thread, so that Close and
        // Dispose can refuse to deadlock (the header forbids them inside callbacks).
        [ThreadStatic] static SecucardClient callbackOwner;

        // Whether this library thread was made a background thread (see OnLibraryThread).
        [ThreadStatic] static bool backgroundMarked;

        // Each client's callback thread lives until the client is closed, attached to
        // the runtime since its first callback. Mono's exit first waits for every
        // foreground thread it knows, so mark the library's threads as background
        // threads: a client never disposed is then released at ProcessExit (see
        // SecucardClientHandle), which ends its callback thread.
        static void OnLibraryThread()
        {
            if (backgroundMarked) return;
            backgroundMarked = true;
            try { Thread.CurrentThread.IsBackground = true; }
            catch (Exception e) { Trace.TraceWarning("secucard: cannot make the callback thread a background thread: {0}", e.Message); }
        }

        readonly SecucardClientHandle handle;
        readonly IntPtr self; // GCHandle (Normal) of this client; freed by the handle after secucard_client_free
        int disposed;

        // Host services, read by the native callbacks.
        volatile Func<CredentialRequest, string> credentialProvider;
        volatile TokenStorage storage;

        readonly object logLock = new object();
        EventHandler<LogEventArgs> logHandlers;
        LogLevel logLevel = LogLevel.Info;

        /// <summary>Creates a client. No I/O happens until <see cref="Open"/> or the first call.</summary>
        /// <param name="configJson">The config JSON object, e.g.
        /// <c>{"environment":"sandbox","sandbox_url":"http://127.0.0.1:8080","credentials":{...}}</c>.</param>
        /// <exception cref="InvalidArgumentException">The config is not valid; <see cref="InvalidArgumentException.Field"/> names the key.</exception>
        /// <exception cref="StorageException">The configured SQLite file cannot be opened.</exception>
        public SecucardClient(string configJson)
        {
            if (configJson == null) throw new ArgumentNullException("configJson");
            byte[] cfg = Utf8.Encode(configJson, "configJson");
            Native.EnsureLoaded();

            SecucardClientHandle h;
            IntPtr err;
            int st = Native.secucard_client_new(cfg, out h, out err);
            string errJson = Native.TakeString(err);
            if (st != Native.OK)
            {
                if (h != null) h.Dispose();
                throw Errors.FromJson(st, errJson);
            }
            handle = h;
            self = GCHandle.ToIntPtr(GCHandle.Alloc(this, GCHandleType.Normal));
            handle.SetUserData(self);
            handle.ReleaseAtExit();

            st = Native.secucard_set_event_callback(handle, EventCb, self);
            if (st != Native.OK)
            {
                handle.Dispose();
                throw Errors.FromStatus(st, "secucard_set_event_callback");
            }
            Smart = new SmartProduct(this);
            CardPointe = new CardPointe(this);
        }

        // ------------------------------------------------------------------
        // Library information
        // ------------------------------------------------------------------

        /// <summary>The native library's version, e.g. "0.1.0".</summary>
        public static string NativeVersion
        {
            get { Native.EnsureLoaded(); return Utf8.Decode(Native.secucard_version()); }
        }

        /// <summary>The ABI version the native library implements (this binding needs 1).</summary>
        public static int NativeAbiVersion
        {
            get { Native.EnsureLoaded(); return Native.secucard_abi_version(); }
        }

        /// <summary>
        /// Renders receipt lines as plain text for a till printer of <paramref name="width"/>
        /// columns (0 = 40; 20..200). <paramref name="receiptJson"/> is the array of receipt
        /// lines or a whole smart transaction object.
        /// </summary>
        /// <exception cref="InvalidArgumentException">Not JSON, no receipt lines, or width out of range.</exception>
        public static string FormatReceipt(string receiptJson, int width = 0)
        {
            if (receiptJson == null) throw new ArgumentNullException("receiptJson");
            byte[] r = Utf8.Encode(receiptJson, "receiptJson");
            Native.EnsureLoaded();
            IntPtr text, err;
            int st = Native.secucard_format_receipt(r, width, out text, out err);
            string t = Native.TakeString(text);
            Errors.Check(st, err);
            return t;
        }

        // ------------------------------------------------------------------
        // Lifecycle
        // ------------------------------------------------------------------

        /// <summary>
        /// Authenticates and connects; blocks until done. With the device grant it
        /// raises <see cref="DeviceCodeIssued"/> and waits until a person approves the
        /// code (or it is denied, expires, times out, or <see cref="CancelAuth"/> is
        /// called). Subscribe to the events before calling it.
        /// </summary>
        /// <exception cref="AuthException">Refused; see the subclasses and <see cref="SecucardException.Reason"/>.</exception>
        public void Open()
        {
            ThrowIfDisposed();
            IntPtr err;
            int st = Native.secucard_client_open(handle, out err);
            Errors.Check(st, err);
        }

        /// <summary>
        /// <see cref="Open"/> on a background thread (the native call blocks a thread
        /// for the whole device authorization). Canceling <paramref name="cancellationToken"/>
        /// cancels the device authorization; the Task then ends Canceled.
        /// </summary>
        public Task OpenAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            ThrowIfDisposed();
            var tcs = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (cancellationToken.IsCancellationRequested)
            {
                tcs.TrySetCanceled(cancellationToken);
                return tcs.Task;
            }
            // secucard_cancel_auth cancels only a flow that is already running ("nothing
            // to cancel is not an error"). A token canceled just before the flow starts
            // is therefore also checked when the flow reports progress.
            EventHandler<AuthStatusEventArgs> lateCancel = (s, e) =>
            {
                if (cancellationToken.IsCancellationRequested) SafeCancelAuth();
            };
            var thread = new Thread(() =>
            {
                AuthStatusChanged += lateCancel;
                try
                {
                    using (cancellationToken.Register(() => SafeCancelAuth()))
                    {
                        if (cancellationToken.IsCancellationRequested)
                        {
                            tcs.TrySetCanceled(cancellationToken);
                            return;
                        }
                        Open();
                        tcs.TrySetResult(true);
                    }
                }
                catch (AuthCanceledException e)
                {
                    if (cancellationToken.IsCancellationRequested) tcs.TrySetCanceled(cancellationToken);
                    else tcs.TrySetException(e);
                }
                catch (Exception e)
                {
                    tcs.TrySetException(e);
                }
                finally
                {
                    AuthStatusChanged -= lateCancel;
                }
            });
            thread.IsBackground = true;
            thread.Name = "secucard open";
            thread.Start();
            return tcs.Task;
        }

        /// <summary>
        /// Cancels a device authorization in progress: the waiting <see cref="Open"/>
        /// throws <see cref="AuthCanceledException"/>. Safe from any thread and from
        /// event handlers; nothing to cancel is not an error.
        /// </summary>
        public void CancelAuth()
        {
            ThrowIfDisposed();
            int st = Native.secucard_cancel_auth(handle);
            if (st != Native.OK) throw Errors.FromStatus(st, "CancelAuth");
        }

        void SafeCancelAuth()
        {
            try { CancelAuth(); }
            catch (Exception e) { Trace.TraceWarning("secucard: CancelAuth from a CancellationToken failed: {0}", e.Message); }
        }

        /// <summary>
        /// Deletes this client's stored tokens. With the client_credentials grant the next call
        /// authenticates by itself; with the device and appuser grants only Open authorizes again
        /// (a new device authorization), and calls throw an AuthException with reason
        /// "not_authorized" until then.
        /// </summary>
        public void ClearTokens()
        {
            ThrowIfDisposed();
            IntPtr err;
            int st = Native.secucard_client_clear_tokens(handle, out err);
            Errors.Check(st, err);
        }

        /// <summary>
        /// Disconnects, cancels calls in flight (their Tasks fault with
        /// <see cref="CanceledException"/>) and stops events. Later calls throw
        /// <see cref="ClosedException"/>. Closing twice is harmless. Must not be called
        /// from one of this client's event handlers or callbacks.
        /// </summary>
        public void Close()
        {
            ThrowIfDisposed();
            ThrowIfInsideOwnCallback("Close");
            IntPtr err;
            int st = Native.secucard_client_close(handle, out err);
            Errors.Check(st, err);
        }

        /// <summary>
        /// Closes the client and releases it. Idempotent. Afterwards every member throws
        /// <see cref="ObjectDisposedException"/>. Must not be called from one of this
        /// client's event handlers or callbacks (that would wait for itself): it throws
        /// InvalidOperationException there.
        /// </summary>
        public void Dispose()
        {
            ThrowIfInsideOwnCallback("Dispose");
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            try
            {
                // Close first: it cancels a blocking Open or call on another thread, which
                // still holds a reference to the handle and would delay its release.
                IntPtr err;
                Native.secucard_client_close(handle, out err);
                Native.TakeString(err);
            }
            catch (ObjectDisposedException) { }
            // Releases the native client once no call uses it any more (secucard_client_free);
            // that frees the GCHandle too, after the library has promised no further callbacks.
            handle.Dispose();
        }

        /// <summary>Whether <see cref="Dispose"/> was called.</summary>
        public bool IsDisposed { get { return Volatile.Read(ref disposed) != 0; } }

        void ThrowIfDisposed()
        {
            if (Volatile.Read(ref disposed) != 0) throw new ObjectDisposedException("SecucardClient", "The SecucardClient was disposed.");
        }

        void ThrowIfInsideOwnCallback(string what)
        {
            if (callbackOwner == this)
                throw new InvalidOperationException(what + " must not be called from inside one of this client's event handlers or callbacks " +
                                                    "(it waits until they have returned). Call it from another thread.");
        }

        // ------------------------------------------------------------------
        // Calls
        // ------------------------------------------------------------------

        /// <summary>The POS core of the smart product: transactions, idents, checkins.</summary>
        public SmartProduct Smart { get; private set; }

        /// <summary>The CardPointe Gateway (needs a "cardpointe" section in the config):
        /// <c>await client.CardPointe.AuthAsync(1999, token, "1230", capture: true)</c>.</summary>
        public CardPointe CardPointe { get; private set; }

        /// <summary>Any resource of the catalog, addressed as "product.resource", e.g. "loyalty.cards".</summary>
        public Resource Resource(string name)
        {
            if (name == null) throw new ArgumentNullException("name");
            return new Resource(this, name);
        }

        /// <summary>
        /// Performs one call described by a request JSON object
        /// (<c>{"resource":"smart.transactions","op":"get","id":"STX_..."}</c>; see the
        /// header for every key) and returns the answer JSON: the object for get, create,
        /// update and execute; <c>{"count":n,"data":[...]}</c> for list; "null" when the
        /// server sent no body.
        /// </summary>
        public string Call(string requestJson)
        {
            if (requestJson == null) throw new ArgumentNullException("requestJson");
            byte[] req = Utf8.Encode(requestJson, "requestJson");
            ThrowIfDisposed();
            IntPtr result, err;
            int st = Native.secucard_call(handle, req, out result, out err);
            string res = Native.TakeString(result); // NULL on failure
            Errors.Check(st, err);                  // frees err; throws on failure
            return res;
        }

        /// <summary>
        /// <see cref="Call"/> without blocking a thread. The Task completes from the
        /// library's completion callback. Canceling <paramref name="cancellationToken"/>
        /// cancels the call in the library and ends the Task Canceled (a request the server
        /// already received may still take effect there: check before repeating a payment).
        /// Library failures fault the Task with the mapped <see cref="SecucardException"/>.
        /// </summary>
        public Task<string> CallAsync(string requestJson, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (requestJson == null) throw new ArgumentNullException("requestJson");
            byte[] req = Utf8.Encode(requestJson, "requestJson");
            ThrowIfDisposed();
            var pending = new PendingCall(this, cancellationToken);
            if (cancellationToken.IsCancellationRequested)
            {
                pending.Tcs.TrySetCanceled(cancellationToken);
                return pending.Tcs.Task;
            }
            GCHandle gch = GCHandle.Alloc(pending, GCHandleType.Normal);
            int st;
            ulong id;
            IntPtr err;
            try
            {
                st = Native.secucard_call_async(handle, req, CallCb, GCHandle.ToIntPtr(gch), out id, out err);
            }
            catch
            {
                gch.Free();
                throw;
            }
            string errJson = Native.TakeString(err);
            if (st != Native.OK)
            {
                // The library never calls back when it refused the call.
                gch.Free();
                pending.Tcs.TrySetException(Errors.FromJson(st, errJson));
                return pending.Tcs.Task;
            }
            pending.Start(id);
            return pending.Tcs.Task;
        }

        void CancelCall(ulong id)
        {
            try
            {
                if (IsDisposed) return; // Dispose already canceled everything
                Native.secucard_cancel(handle, id);
            }
            catch (Exception e)
            {
                // Runs inside CancellationTokenSource.Cancel: never throw there.
                Trace.TraceWarning("secucard: canceling call {0} failed: {1}", id, e.Message);
            }
        }

        /// <summary>One async call in flight: owns the Task and the token registration.</summary>
        sealed class PendingCall
        {
            public readonly TaskCompletionSource<string> Tcs =
                new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            public readonly SecucardClient Client;
            readonly CancellationToken token;
            readonly object gate = new object();
            CancellationTokenRegistration registration;
            bool registered, completed;
            ulong id;

            public PendingCall(SecucardClient client, CancellationToken token) { Client = client; this.token = token; }

            public void Start(ulong callId)
            {
                id = callId;
                if (!token.CanBeCanceled) return;
                var r = token.Register(s => ((PendingCall)s).Client.CancelCall(((PendingCall)s).id), this);
                bool disposeNow;
                lock (gate)
                {
                    disposeNow = completed; // the callback may have run before call_async returned
                    if (!disposeNow) { registration = r; registered = true; }
                }
                if (disposeNow) r.Dispose();
            }

            // Called exactly once, from the library's completion callback.
            public void Complete(int status, string result, string errJson)
            {
                if (status == Native.OK) Tcs.TrySetResult(result);
                else if (status == Native.ErrCanceled && token.IsCancellationRequested) Tcs.TrySetCanceled(token);
                else Tcs.TrySetException(Errors.FromJson(status, errJson));

                CancellationTokenRegistration r = default(CancellationTokenRegistration);
                bool dispose;
                lock (gate)
                {
                    completed = true;
                    dispose = registered;
                    if (registered) { r = registration; registered = false; }
                }
                // Disposing a registration waits for a running cancel callback; do it
                // off the library's callback thread.
                if (dispose) ThreadPool.QueueUserWorkItem(s => ((IDisposable)s).Dispose(), r);
            }
        }

        // ------------------------------------------------------------------
        // Events
        // ------------------------------------------------------------------

        /// <summary>Every event the library delivers, as raw JSON (also kinds this binding does not know).</summary>
        public event EventHandler<SecucardEventArgs> EventReceived;

        /// <summary>A push event (STOMP, or a webhook body given to <see cref="HandleEvent"/>).</summary>
        public event EventHandler<PushEventArgs> PushReceived;

        /// <summary>The STOMP connection changed state.</summary>
        public event EventHandler<ConnectionStateEventArgs> ConnectionStateChanged;

        /// <summary>A device code was issued during <see cref="Open"/>: show it to the person approving the till.</summary>
        public event EventHandler<DeviceCodeEventArgs> DeviceCodeIssued;

        /// <summary>Authentication progressed ("device_code", "pending", "ok", "failed", "canceled", "refreshed").</summary>
        public event EventHandler<AuthStatusEventArgs> AuthStatusChanged;

        /// <summary>A background failure no caller is waiting for (event kind "error").</summary>
        public event EventHandler<SecucardErrorEventArgs> ErrorOccurred;

        /// <summary>
        /// Redacted log lines at or above <see cref="LogLevel"/>. The native log callback
        /// is installed while at least one handler is subscribed.
        /// </summary>
        public event EventHandler<LogEventArgs> LogReceived
        {
            add
            {
                lock (logLock)
                {
                    var before = logHandlers;
                    logHandlers += value;
                    if (before != null || logHandlers == null) return;
                    try { ApplyLogCallback(true); }
                    catch { logHandlers = before; throw; }
                }
            }
            remove
            {
                lock (logLock)
                {
                    logHandlers -= value;
                    if (logHandlers == null) ApplyLogCallback(false);
                }
            }
        }

        /// <summary>The lowest level that reaches <see cref="LogReceived"/> (default Info).</summary>
        public LogLevel LogLevel
        {
            get { lock (logLock) return logLevel; }
            set
            {
                if (value < LogLevel.Off || value > LogLevel.Trace) throw new ArgumentOutOfRangeException("value");
                lock (logLock)
                {
                    logLevel = value;
                    if (logHandlers != null) ApplyLogCallback(true);
                }
            }
        }

        void ApplyLogCallback(bool throwOnError)
        {
            if (IsDisposed)
            {
                if (throwOnError) ThrowIfDisposed();
                return;
            }
            int st;
            try
            {
                st = Native.secucard_set_log_callback(handle, logHandlers != null ? LogCb : null, self, (int)logLevel);
            }
            catch (ObjectDisposedException)
            {
                if (throwOnError) throw;
                return;
            }
            if (st != Native.OK && throwOnError) throw Errors.FromStatus(st, "LogReceived/LogLevel");
        }

        /// <summary>
        /// Feeds a webhook body your endpoint received (<c>{"object":"event.pushes",
        /// "id","target","type","created","data"}</c>) into the event pipeline: it is raised
        /// as <see cref="PushReceived"/>, exactly like a STOMP push. secucard does not sign
        /// webhook bodies: only pass bodies your endpoint trusts.
        /// </summary>
        /// <exception cref="InvalidArgumentException">Not an event object, or target/type missing.</exception>
        public void HandleEvent(string webhookBodyJson)
        {
            if (webhookBodyJson == null) throw new ArgumentNullException("webhookBodyJson");
            byte[] body = Utf8.Encode(webhookBodyJson, "webhookBodyJson");
            ThrowIfDisposed();
            IntPtr err;
            int st = Native.secucard_handle_event(handle, body, out err);
            Errors.Check(st, err);
        }

        internal void DispatchEvent(string json) // internal: the tests feed envelopes the sandbox cannot produce yet
        {
            System.Collections.Generic.Dictionary<string, object> o;
            System.Collections.Generic.Dictionary<string, string> raw;
            try
            {
                o = Json.ParseObject(json, out raw);
            }
            catch (FormatException e)
            {
                Report(LogLevel.Error, "secucard: the library delivered an event that is not a JSON object (" + e.Message + ")", null);
                Raise(EventReceived, new SecucardEventArgs("", json), "EventReceived");
                return;
            }
            string kind = Json.Str(o, "kind") ?? "";
            switch (kind)
            {
                case "push":
                    Raise(PushReceived, new PushEventArgs(o, raw, json), "PushReceived");
                    break;
                case "connection":
                    Raise(ConnectionStateChanged, new ConnectionStateEventArgs(Json.Str(o, "state") ?? "", Json.Str(o, "reason"), Json.Bool(o, "resync", false), json), "ConnectionStateChanged");
                    break;
                case "auth":
                {
                    string state = Json.Str(o, "state") ?? "";
                    if (state == "device_code")
                        Raise(DeviceCodeIssued, new DeviceCodeEventArgs(Json.Str(o, "user_code"), Json.Str(o, "verification_url"),
                                                                        Json.Long(o, "expires_in", 0), Json.Long(o, "interval", 0), json), "DeviceCodeIssued");
                    Raise(AuthStatusChanged, new AuthStatusEventArgs(state, Json.Str(o, "grant"), NestedError(raw), json), "AuthStatusChanged");
                    break;
                }
                case "error":
                    Raise(ErrorOccurred, new SecucardErrorEventArgs(NestedError(raw) ?? Errors.FromJson(Native.ErrInternal, null), json), "ErrorOccurred");
                    break;
            }
            Raise(EventReceived, new SecucardEventArgs(kind, json), "EventReceived");
        }

        static SecucardException NestedError(System.Collections.Generic.Dictionary<string, string> raw)
        {
            string e;
            if (!raw.TryGetValue("error", out e) || e == "null") return null;
            return Errors.FromJson(Native.ErrInternal, e); // the nested JSON carries its own status and type
        }

        void Raise<T>(EventHandler<T> handlers, T args, string name) where T : EventArgs
        {
            if (handlers == null) return;
            foreach (EventHandler<T> h in handlers.GetInvocationList())
            {
                try { h(this, args); }
                catch (Exception e) { ReportHandlerFailure(name, e); }
            }
        }

        void ReportHandlerFailure(string name, Exception e)
        {
            Report(LogLevel.Error, "secucard: a handler of " + name + " threw " + e.GetType().FullName + ": " + e.Message, e);
        }

        // Reports a binding-side problem: to Trace always, and to LogReceived (unless
        // the problem is a LogReceived handler itself, which would loop).
        void Report(LogLevel level, string message, Exception e)
        {
            if (level <= LogLevel.Error) Trace.TraceError("{0}", e != null ? message + Environment.NewLine + e : message);
            else Trace.TraceWarning("{0}", message);
            EventHandler<LogEventArgs> h = logHandlers;
            if (h == null) return;
            var args = new LogEventArgs(level, message);
            foreach (EventHandler<LogEventArgs> d in h.GetInvocationList())
            {
                try { d(this, args); }
                catch (Exception inner) { Trace.TraceError("secucard: a handler of LogReceived threw {0}", inner); }
            }
        }

        // ------------------------------------------------------------------
        // Host services
        // ------------------------------------------------------------------

        /// <summary>
        /// Installs (or, with null, removes) the credential provider, asked when the
        /// library needs credentials the config does not hold. Return a credentials JSON
        /// object (same keys as the config's "credentials") or null to decline (the
        /// pending open or call then throws <see cref="AuthCanceledException"/>). An
        /// exception thrown by the provider counts as declining and is logged.
        /// </summary>
        public void SetCredentialProvider(Func<CredentialRequest, string> provider)
        {
            ThrowIfDisposed();
            credentialProvider = provider;
            int st = Native.secucard_set_credentials_callback(handle, provider != null ? CredentialsCb : null, self);
            if (st != Native.OK) throw Errors.FromStatus(st, "SetCredentialProvider");
        }

        /// <summary>
        /// Lets the host own token storage (config <c>"store":{"type":"callback"}</c>).
        /// Call it after construction and before the client authenticates. Values are
        /// opaque bytes already encrypted by the library; keys are short ASCII strings.
        /// <paramref name="get"/> returns null when the key is absent. An exception thrown
        /// by a delegate makes the library report <see cref="StorageException"/>.
        /// </summary>
        public void SetTokenStorage(Func<string, byte[]> get, Action<string, byte[]> put, Action<string> delete)
        {
            if (get == null) throw new ArgumentNullException("get");
            if (put == null) throw new ArgumentNullException("put");
            if (delete == null) throw new ArgumentNullException("delete");
            ThrowIfDisposed();
            var previous = storage;
            storage = new TokenStorage(get, put, delete);
            int st = Native.secucard_set_storage_callbacks(handle, StoreGetCb, StorePutCb, StoreDelCb, self);
            if (st != Native.OK)
            {
                storage = previous;
                throw Errors.FromStatus(st, "SetTokenStorage"); // invalid argument: store.type is not "callback", or already authenticated
            }
        }

        sealed class TokenStorage
        {
            public readonly Func<string, byte[]> Get;
            public readonly Action<string, byte[]> Put;
            public readonly Action<string> Delete;
            public TokenStorage(Func<string, byte[]> g, Action<string, byte[]> p, Action<string> d) { Get = g; Put = p; Delete = d; }
        }

        /// <summary>The client's counters as JSON (calls by outcome, retries, token requests, latency, events). Works after Close.</summary>
        public string Stats()
        {
            ThrowIfDisposed();
            IntPtr json;
            int st = Native.secucard_client_stats(handle, out json);
            string s = Native.TakeString(json);
            if (st != Native.OK) throw Errors.FromStatus(st, "Stats");
            return s;
        }

        // ------------------------------------------------------------------
        // Native callbacks (static; never let an exception escape into native code)
        // ------------------------------------------------------------------

        static SecucardClient ClientOf(IntPtr userData)
        {
            return (SecucardClient)GCHandle.FromIntPtr(userData).Target;
        }

        static void OnEvent(IntPtr userData, IntPtr eventJson)
        {
            OnLibraryThread();
            SecucardClient c = null;
            var prev = callbackOwner;
            try
            {
                c = ClientOf(userData);
                callbackOwner = c;
                c.DispatchEvent(Utf8.Decode(eventJson));
            }
            catch (Exception e)
            {
                Trace.TraceError("secucard: event callback failed: {0}", e);
            }
            finally
            {
                callbackOwner = prev;
            }
        }

        static void OnCallComplete(IntPtr userData, ulong callId, int status, IntPtr resultJson, IntPtr errJson)
        {
            OnLibraryThread();
            var prev = callbackOwner;
            try
            {
                GCHandle gch = GCHandle.FromIntPtr(userData);
                var pending = (PendingCall)gch.Target;
                gch.Free(); // exactly one completion per accepted call
                callbackOwner = pending.Client;
                // The strings belong to the library and live only during this call: copy, never free.
                pending.Complete(status, Utf8.Decode(resultJson), Utf8.Decode(errJson));
            }
            catch (Exception e)
            {
                Trace.TraceError("secucard: completion callback failed: {0}", e);
            }
            finally
            {
                callbackOwner = prev;
            }
        }

        static int OnCredentials(IntPtr userData, IntPtr requestJson, IntPtr reply)
        {
            OnLibraryThread();
            SecucardClient c = null;
            var prev = callbackOwner;
            try
            {
                c = ClientOf(userData);
                callbackOwner = c;
                var provider = c.credentialProvider;
                if (provider == null) return 1;
                string creds;
                try
                {
                    creds = provider(new CredentialRequest(Utf8.Decode(requestJson)));
                }
                catch (Exception e)
                {
                    c.ReportHandlerFailure("the credential provider", e);
                    return 1;
                }
                if (creds == null) return 1;
                return SetReply(reply, Utf8.Encode(creds, "credentials"), true) ? 0 : 1;
            }
            catch (Exception e)
            {
                if (c != null) c.Report(LogLevel.Error, "secucard: credential callback failed: " + e.Message, e);
                else Trace.TraceError("secucard: credential callback failed: {0}", e);
                return 1;
            }
            finally
            {
                callbackOwner = prev;
            }
        }

        // Copies bytes into a reply slot; dropNul strips the terminator Utf8.Encode adds.
        static bool SetReply(IntPtr reply, byte[] data, bool dropNul)
        {
            int len = data.Length - (dropNul ? 1 : 0);
            return Native.secucard_reply_set(reply, data, (UIntPtr)(uint)len) == Native.OK;
        }

        static int OnStoreGet(IntPtr userData, IntPtr key, IntPtr reply)
        {
            OnLibraryThread();
            return StoreOp(userData, "get", c =>
            {
                byte[] v = c.storage.Get(Utf8.Decode(key));
                if (v == null) return Native.StoreNotFound;
                return SetReply(reply, v, false) ? Native.StoreOK : Native.StoreError;
            });
        }

        static int OnStorePut(IntPtr userData, IntPtr key, IntPtr value, UIntPtr len)
        {
            OnLibraryThread();
            return StoreOp(userData, "put", c =>
            {
                ulong n = len.ToUInt64();
                if (n > int.MaxValue) return Native.StoreError;
                var v = new byte[(int)n];
                if (n > 0) Marshal.Copy(value, v, 0, (int)n);
                c.storage.Put(Utf8.Decode(key), v);
                return Native.StoreOK;
            });
        }

        static int OnStoreDel(IntPtr userData, IntPtr key)
        {
            OnLibraryThread();
            return StoreOp(userData, "delete", c =>
            {
                c.storage.Delete(Utf8.Decode(key));
                return Native.StoreOK;
            });
        }

        static int StoreOp(IntPtr userData, string what, Func<SecucardClient, int> op)
        {
            SecucardClient c = null;
            var prev = callbackOwner;
            try
            {
                c = ClientOf(userData);
                callbackOwner = c;
                if (c.storage == null) return Native.StoreError;
                return op(c);
            }
            catch (Exception e)
            {
                if (c != null) c.ReportHandlerFailure("the token storage " + what + " delegate", e);
                else Trace.TraceError("secucard: storage callback failed: {0}", e);
                return Native.StoreError;
            }
            finally
            {
                callbackOwner = prev;
            }
        }

        static void OnLog(IntPtr userData, int level, IntPtr message)
        {
            OnLibraryThread();
            var prev = callbackOwner;
            try
            {
                SecucardClient c = ClientOf(userData);
                callbackOwner = c;
                EventHandler<LogEventArgs> h = c.logHandlers;
                if (h == null) return;
                var args = new LogEventArgs((LogLevel)level, Utf8.Decode(message));
                foreach (EventHandler<LogEventArgs> d in h.GetInvocationList())
                {
                    try { d(c, args); }
                    catch (Exception e) { Trace.TraceError("secucard: a handler of LogReceived threw {0}", e); }
                }
            }
            catch (Exception e)
            {
                Trace.TraceError("secucard: log callback failed: {0}", e);
            }
            finally
            {
                callbackOwner = prev;
            }
        }
    }
}
