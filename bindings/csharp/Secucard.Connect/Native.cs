// Native.cs - every import of include/secucard.h, and the UTF-8 marshalling rules.
//
// Rules kept here so that no other file has to think about them:
//  * strings going in are encoded to NUL-terminated UTF-8 byte arrays by Utf8.Encode
//    (Mono's default string marshalling is not UTF-8 on every platform);
//  * strings coming back arrive as IntPtr, are decoded as UTF-8 by Utf8.Decode and
//    released with secucard_free in a finally block (TakeString);
//  * the client handle is a SafeHandle, so a concurrent Dispose cannot free the
//    native client while a call on another thread still uses it.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace Secucard.Connect
{
    internal static class Native
    {
        // "secucard" resolves to libsecucard.so on Linux and secucard.dll on Windows.
        const string Lib = "secucard";

        /// <summary>The SECUCARD_ABI_VERSION this binding was written for.</summary>
        public const int AbiVersion = 1;

        // Status codes (secucard_status).
        public const int OK = 0;
        public const int ErrInvalidArgument = 1;
        public const int ErrInvalidHandle = 2;
        public const int ErrAuth = 3;
        public const int ErrApi = 4;
        public const int ErrDeclined = 5;
        public const int ErrNetwork = 6;
        public const int ErrTimeout = 7;
        public const int ErrCanceled = 8;
        public const int ErrClosed = 9;
        public const int ErrStorage = 10;
        public const int ErrNoEvent = 11;
        public const int ErrInternal = 12;

        // Storage callback results.
        public const int StoreOK = 0;
        public const int StoreNotFound = 1;
        public const int StoreError = 2;

        // ---- versions ----
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr secucard_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_version_number();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_abi_version();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr secucard_strerror(int status);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void secucard_free(IntPtr ptr);

        // ---- client lifecycle ----
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_client_new(byte[] configJson, out SecucardClientHandle client, out IntPtr errJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_client_open(SecucardClientHandle client, out IntPtr errJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_client_close(SecucardClientHandle client, out IntPtr errJson);

        // Takes the raw pointer: it is called from SecucardClientHandle.ReleaseHandle.
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void secucard_client_free(IntPtr client);

        // secucard_client_free that never waits: for the finalizer (see ReleaseHandle).
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void secucard_client_release(IntPtr client);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_client_clear_tokens(SecucardClientHandle client, out IntPtr errJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_cancel_auth(SecucardClientHandle client);

        // ---- calls ----
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_call(SecucardClientHandle client, byte[] requestJson, out IntPtr resultJson, out IntPtr errJson);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void CallCallback(IntPtr userData, ulong callId, int status, IntPtr resultJson, IntPtr errJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_call_async(SecucardClientHandle client, byte[] requestJson, CallCallback callback,
                                                     IntPtr userData, out ulong callId, out IntPtr errJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_cancel(SecucardClientHandle client, ulong callId);

        // ---- events ----
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void EventCallback(IntPtr userData, IntPtr eventJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_set_event_callback(SecucardClientHandle client, EventCallback callback, IntPtr userData);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_next_event(SecucardClientHandle client, int timeoutMs, out IntPtr eventJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_handle_event(SecucardClientHandle client, byte[] webhookBodyJson, out IntPtr errJson);

        // ---- host services ----
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_reply_set(IntPtr reply, byte[] data, UIntPtr len);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int CredentialsCallback(IntPtr userData, IntPtr requestJson, IntPtr reply);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_set_credentials_callback(SecucardClientHandle client, CredentialsCallback callback, IntPtr userData);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int StoreGetCallback(IntPtr userData, IntPtr key, IntPtr reply);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int StorePutCallback(IntPtr userData, IntPtr key, IntPtr value, UIntPtr len);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate int StoreDelCallback(IntPtr userData, IntPtr key);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_set_storage_callbacks(SecucardClientHandle client, StoreGetCallback get, StorePutCallback put,
                                                                StoreDelCallback del, IntPtr userData);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        public delegate void LogCallback(IntPtr userData, int level, IntPtr message);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_set_log_callback(SecucardClientHandle client, LogCallback callback, IntPtr userData, int minLevel);

        // ---- receipts, observability ----
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_format_receipt(byte[] receiptJson, int width, out IntPtr text, out IntPtr errJson);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int secucard_client_stats(SecucardClientHandle client, out IntPtr statsJson);

        // ---- helpers ----

        /// <summary>Decodes a library-owned string and frees it; null for NULL.</summary>
        public static string TakeString(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            try { return Utf8.Decode(p); }
            finally { secucard_free(p); }
        }

        /// <summary>secucard_strerror as a .NET string.</summary>
        public static string StatusName(int status)
        {
            return Utf8.Decode(secucard_strerror(status)) ?? "unknown status";
        }

        static readonly object loadLock = new object();
        static volatile bool loaded;

        /// <summary>
        /// Loads the library and checks its ABI version once. Every public entry
        /// point calls this first so that a missing or incompatible library fails with
        /// a message that says what to do, not with an EntryPointNotFoundException
        /// deep inside a call.
        /// </summary>
        public static void EnsureLoaded()
        {
            if (loaded) return;
            lock (loadLock)
            {
                if (loaded) return;
                int abi;
                try
                {
                    abi = secucard_abi_version();
                }
                catch (DllNotFoundException e)
                {
                    throw new DllNotFoundException(
                        "Secucard.Connect could not load the native library libsecucard (libsecucard.so on Linux, " +
                        "secucard.dll on Windows). Put it next to Secucard.Connect.dll or on the library search path " +
                        "(LD_LIBRARY_PATH / PATH). " + e.Message, e);
                }
                catch (EntryPointNotFoundException e)
                {
                    throw new InvalidOperationException(
                        "The library named 'secucard' that was loaded is not libsecucard (it has no secucard_abi_version).", e);
                }
                CheckAbi(abi, Utf8.Decode(secucard_version()));
                loaded = true;
            }
        }

        /// <summary>Throws when the library's ABI differs from the one this binding speaks.</summary>
        internal static void CheckAbi(int libraryAbi, string libraryVersion)
        {
            if (libraryAbi == AbiVersion) return;
            throw new InvalidOperationException(string.Format(
                "libsecucard {0} implements ABI version {1}, but this Secucard.Connect binding was written for ABI version {2}. " +
                "Use the native library that shipped with this binding (or a binding built for ABI {1}).",
                libraryVersion ?? "(unknown version)", libraryAbi, AbiVersion));
        }
    }

    /// <summary>UTF-8 conversion for the native boundary.</summary>
    internal static class Utf8
    {
        // No BOM; invalid bytes (never sent by the library) become U+FFFD rather than throwing.
        static readonly UTF8Encoding Enc = new UTF8Encoding(false, false);

        /// <summary>NUL-terminated UTF-8 bytes of s; null for null. An embedded NUL
        /// would silently truncate the string on the C side, so it is refused.</summary>
        public static byte[] Encode(string s, string paramName)
        {
            if (s == null) return null;
            if (s.IndexOf('\0') >= 0)
                throw new ArgumentException("must not contain a NUL character", paramName);
            int n = Enc.GetByteCount(s);
            var b = new byte[n + 1];
            Enc.GetBytes(s, 0, s.Length, b, 0);
            return b; // b[n] == 0
        }

        /// <summary>Reads a NUL-terminated UTF-8 string (Marshal.PtrToStringUTF8 is not
        /// part of netstandard2.0, hence this loop); null for NULL.</summary>
        public static string Decode(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int len = 0;
            while (Marshal.ReadByte(p, len) != 0) len++;
            return FromBytes(p, len);
        }

        /// <summary>Reads len bytes at p as UTF-8.</summary>
        public static string FromBytes(IntPtr p, int len)
        {
            if (len == 0) return string.Empty;
            var b = new byte[len];
            Marshal.Copy(p, b, 0, len);
            return Enc.GetString(b);
        }
    }

    /// <summary>
    /// The native client handle. Disposing it calls secucard_client_free, which
    /// closes the client and waits until none of its callbacks runs; only after that
    /// is the GCHandle that native code received as user_data freed.
    /// <para>A client never disposed is released when the process exits, with
    /// secucard_client_release, which never waits: the runtime's exit waits for the
    /// threads it knows, among them the client's callback thread once it ran managed
    /// code, and that thread ends only when its client is released. (The finalizer
    /// runs too late for that, after the wait.)</para>
    /// </summary>
    internal sealed class SecucardClientHandle : SafeHandle
    {
        IntPtr userData; // GCHandle of the owning SecucardClient, or zero
        volatile bool disposedByOwner; // released through Dispose, not the finalizer

        // Handles not released yet, for the process-exit hook.
        static readonly HashSet<SecucardClientHandle> live = new HashSet<SecucardClientHandle>();
        static bool exitHooked;

        /// <summary>Used by the marshaller.</summary>
        public SecucardClientHandle() : base(IntPtr.Zero, true) { }

        /// <inheritdoc/>
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }

        internal void SetUserData(IntPtr gcHandle) { userData = gcHandle; }

        /// <summary>Releases this client at process exit unless it is disposed before.</summary>
        internal void ReleaseAtExit()
        {
            lock (live)
            {
                live.Add(this);
                if (exitHooked) return;
                exitHooked = true;
                // ProcessExit runs after the runtime waited for foreground threads and
                // before it aborts and waits for background ones (the callback threads).
                AppDomain.CurrentDomain.ProcessExit += (s, e) => ReleaseAll();
            }
        }

        static void ReleaseAll()
        {
            SecucardClientHandle[] all;
            lock (live)
            {
                all = new SecucardClientHandle[live.Count];
                live.CopyTo(all);
            }
            foreach (var h in all) h.ReleaseWithoutWaiting();
        }

        // No callback of the client begins afterwards and its callback thread ends;
        // the SafeHandle itself is released later as usual (freeing twice is a no-op).
        void ReleaseWithoutWaiting()
        {
            bool added = false;
            try
            {
                DangerousAddRef(ref added);
                Native.secucard_client_release(handle);
            }
            catch (ObjectDisposedException) { }
            finally
            {
                if (added) DangerousRelease();
            }
        }

        /// <inheritdoc/>
        protected override void Dispose(bool disposing)
        {
            if (disposing) disposedByOwner = true;
            base.Dispose(disposing);
        }

        /// <inheritdoc/>
        protected override bool ReleaseHandle()
        {
            lock (live) live.Remove(this);
            if (!disposedByOwner)
            {
                // The finalizer: the client's GCHandle kept it reachable, so this runs
                // at process exit. Waiting for callbacks there hangs the exit (Mono's
                // finalizer thread would wait for a callback thread that can no longer
                // attach to the runtime). No callback begins after release returns; one
                // already running may still use the GCHandle, so it is left alone.
                Native.secucard_client_release(handle);
                return true;
            }
            Native.secucard_client_free(handle);
            if (userData != IntPtr.Zero)
            {
                GCHandle.FromIntPtr(userData).Free();
                userData = IntPtr.Zero;
            }
            return true;
        }
    }
}
