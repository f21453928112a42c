// Exceptions.cs - the exception classes and the ONE function that maps the
// library's error JSON onto them (Errors.FromJson).

using System;
using System.Collections.Generic;

namespace Secucard.Connect
{
    /// <summary>
    /// A failure reported by libsecucard. <see cref="Type"/> is the error JSON's
    /// "type" and decides the subclass; <see cref="RawJson"/> is the whole error JSON
    /// (it never contains secrets: the library redacts it).
    /// </summary>
    /// <remarks>
    /// Before repeating a failed call, read <see cref="Retryable"/> and <see cref="Outcome"/>:
    /// a till that repeats only what <see cref="Retryable"/> allows, and then with
    /// <see cref="IdempotencyKey"/>, never charges twice. The library decides both once,
    /// the same way for REST, STOMP and the token endpoint.
    /// </remarks>
    public class SecucardException : Exception
    {
        /// <summary>The library's status code (SECUCARD_ERR_*), e.g. 4 for an API error.</summary>
        public int Status { get; private set; }
        /// <summary>"invalid_argument", "invalid_handle", "auth", "api", "declined", "network", "timeout", "canceled", "closed", "storage", "internal", or a type added later.</summary>
        public string Type { get; private set; }
        /// <summary>Refines the type, mainly for auth errors ("denied", "expired", "timeout", "canceled", ...); null when absent.</summary>
        public string Reason { get; private set; }
        /// <summary>What the library was doing, e.g. "smart.transactions.get"; null when absent.</summary>
        public string Op { get; private set; }
        /// <summary>
        /// True promises that repeating this exact request <em>with the same
        /// <see cref="IdempotencyKey"/></em> may succeed and cannot execute twice. False with
        /// <see cref="Outcome"/> "unknown" means the server may have acted: look the object
        /// (<see cref="ObjectId"/>) up before doing anything again.
        /// </summary>
        public bool Retryable { get; private set; }
        /// <summary>
        /// What the failed request may have done: "not_sent" (it provably never left the
        /// machine), "rejected" (the server answered that it did not carry it out),
        /// "unknown" (the server may have acted: the answer was lost, timed out, a 5xx) or,
        /// for a CardPointe auth, "voided" (its answer was lost and the library voided it:
        /// nothing stands, <see cref="Retryable"/> is true).
        /// Null for errors that are not about a request (a bad config, a closed client).
        /// </summary>
        public string Outcome { get; private set; }
        /// <summary>
        /// The idempotency key (X-Action) a mutating call was sent with; repeat the request
        /// with "idempotency_key" set to it, never with a new one. Null when none was sent.
        /// </summary>
        public string IdempotencyKey { get; private set; }
        /// <summary>
        /// The server's Retry-After in milliseconds whenever it sent one, also when it was
        /// longer than the library waits by itself; null when it sent none.
        /// </summary>
        public long? RetryAfterMs { get; private set; }
        /// <summary>
        /// With <see cref="Outcome"/> "unknown": the object to look up before repeating
        /// anything (the transaction of a payment start); null otherwise.
        /// </summary>
        public string ObjectId { get; private set; }
        /// <summary>The error JSON exactly as the library returned it.</summary>
        public string RawJson { get; private set; }

        /// <summary>CardPointe: the Gateway's respstat ("A", "B", "C"); null for secucard calls.</summary>
        public string RespStat { get; private set; }
        /// <summary>CardPointe: the processor's or gateway's response code ("05", "116", "NU", "62").</summary>
        public string RespCode { get; private set; }
        /// <summary>CardPointe: the response text ("Do not honor").</summary>
        public string RespText { get; private set; }
        /// <summary>CardPointe: who answered: "PPS" (the gateway itself), "FNOR", "RPCT", ...</summary>
        public string RespProc { get; private set; }
        /// <summary>CardPointe: the transaction's retrieval reference.</summary>
        public string Retref { get; private set; }
        /// <summary>CardPointe: the address verification result.</summary>
        public string AvsResp { get; private set; }
        /// <summary>CardPointe: the CVV check result.</summary>
        public string CvvResp { get; private set; }
        /// <summary>CardPointe: the auth's orderid, on every error of an auth: look it up
        /// (InquireByOrderId) before charging again when <see cref="Outcome"/> is "unknown".</summary>
        public string OrderId { get; private set; }

        internal SecucardException(ErrorInfo e) : base(e.Message)
        {
            Status = e.Status;
            Type = e.Type;
            Reason = e.Reason;
            Op = e.Op;
            Retryable = e.Retryable;
            Outcome = e.Outcome;
            IdempotencyKey = e.IdempotencyKey;
            RetryAfterMs = e.RetryAfterMs;
            ObjectId = e.ObjectId;
            RawJson = e.Raw;
            RespStat = e.RespStat;
            RespCode = e.RespCode;
            RespText = e.RespText;
            RespProc = e.RespProc;
            Retref = e.Retref;
            AvsResp = e.AvsResp;
            CvvResp = e.CvvResp;
            OrderId = e.OrderId;
        }
    }

    /// <summary>Bad input: a config key, request field or argument is wrong. <see cref="Field"/> names it.</summary>
    public class InvalidArgumentException : SecucardException
    {
        /// <summary>The config key or request field at fault, e.g. "credentials.client_id"; null when unknown.</summary>
        public string Field { get; private set; }
        internal InvalidArgumentException(ErrorInfo e) : base(e) { Field = e.Field; }
    }

    /// <summary>The client handle is not live (type "invalid_handle", SECUCARD_ERR_INVALID_HANDLE).</summary>
    public class InvalidHandleException : InvalidArgumentException
    {
        internal InvalidHandleException(ErrorInfo e) : base(e) { }
    }

    /// <summary>Credentials or token refused, or the device authorization did not complete. See <see cref="SecucardException.Reason"/>.</summary>
    public class AuthException : SecucardException
    {
        internal AuthException(ErrorInfo e) : base(e) { }
    }

    /// <summary>The device authorization or credential prompt was canceled (CancelAuth, or the credential provider declined).</summary>
    public class AuthCanceledException : AuthException
    {
        internal AuthCanceledException(ErrorInfo e) : base(e) { }
    }

    /// <summary>The credentials or the device code were refused.</summary>
    public class AuthDeniedException : AuthException
    {
        internal AuthDeniedException(ErrorInfo e) : base(e) { }
    }

    /// <summary>The device authorization ran past its deadline (auth.wait_timeout_ms).</summary>
    public class AuthTimeoutException : AuthException
    {
        internal AuthTimeoutException(ErrorInfo e) : base(e) { }
    }

    /// <summary>The device code expired before anyone approved it.</summary>
    public class AuthExpiredException : AuthException
    {
        internal AuthExpiredException(ErrorInfo e) : base(e) { }
    }

    /// <summary>The secucard API answered with its error envelope.</summary>
    public class ApiException : SecucardException
    {
        /// <summary>The server's error name, e.g. "ProductNotFoundException".</summary>
        public string Error { get; private set; }
        /// <summary>Technical details from the server.</summary>
        public string ErrorDetails { get; private set; }
        /// <summary>A message meant for the end user (localised by the config's "language").</summary>
        public string ErrorUser { get; private set; }
        /// <summary>The API's error code.</summary>
        public string Code { get; private set; }
        /// <summary>The id to quote to secucard support.</summary>
        public string SupportId { get; private set; }
        /// <summary>The HTTP status of the answer, 0 when unknown.</summary>
        public int HttpStatus { get; private set; }

        internal ApiException(ErrorInfo e) : base(e)
        {
            Error = e.Error;
            ErrorDetails = e.ErrorDetails;
            ErrorUser = e.ErrorUser;
            Code = e.Code;
            SupportId = e.SupportId;
            HttpStatus = e.HttpStatus;
        }
    }

    /// <summary>
    /// A payment start ended without a payment: the terminal, processor or gateway declined
    /// it (<see cref="SecucardException.Reason"/> is the transaction's status: "failed",
    /// "aborted", "canceled", "timeout", ...). The library raises
    /// <see cref="SecucardDeclinedException"/>, which derives from this class.
    /// </summary>
    public class DeclinedException : SecucardException
    {
        /// <summary>The decline code, when the processor gave one.</summary>
        public string Code { get; private set; }
        /// <summary>A message meant for the customer, when there is one.</summary>
        public string ErrorUser { get; private set; }
        /// <summary>
        /// The transaction as the payment left it (JSON), or null: print its receipt with
        /// <c>SecucardClient.FormatReceipt(e.TransactionJson, width)</c>.
        /// </summary>
        public string TransactionJson { get; private set; }
        /// <summary>The transaction's receipt lines (a JSON array), or null.</summary>
        public string ReceiptJson { get; private set; }
        internal DeclinedException(ErrorInfo e) : base(e)
        {
            Code = e.Code; ErrorUser = e.ErrorUser; TransactionJson = e.TransactionJson;
            if (TransactionJson != null)
            {
                try
                {
                    Dictionary<string, string> raw;
                    Json.ParseObject(TransactionJson, out raw);
                    string r;
                    if (raw.TryGetValue("receipt", out r)) ReceiptJson = r;
                }
                catch (FormatException) { }
            }
        }
    }

    /// <summary>
    /// A payment was declined: what the library raises for every "declined" error. It is a
    /// <see cref="DeclinedException"/>, so existing handlers keep working. A declined
    /// smart.transactions start carries the transaction and its receipt
    /// (<see cref="DeclinedException.TransactionJson"/>, <see cref="DeclinedException.ReceiptJson"/>);
    /// a start never returns a declined transaction. For CardPointe,
    /// <see cref="SecucardException.RespStat"/> .. <see cref="SecucardException.OrderId"/>
    /// say what the Gateway answered; <see cref="Temporary"/> marks a decline for now.
    /// </summary>
    public class SecucardDeclinedException : DeclinedException
    {
        /// <summary>
        /// Declined for now (CardPointe respstat "B", e.g. PPS 62 "Timed out"): nothing was
        /// charged, <see cref="SecucardException.Retryable"/> is true and a new attempt may pass.
        /// </summary>
        public bool Temporary { get; private set; }
        internal SecucardDeclinedException(ErrorInfo e) : base(e) { Temporary = e.Reason == "temporary"; }
    }

    /// <summary>The connection failed, was reset, or the answer was unreadable.</summary>
    public class NetworkException : SecucardException
    {
        internal NetworkException(ErrorInfo e) : base(e) { }
    }

    /// <summary>The call's deadline passed. For a payment the outcome may be unknown: look it up before repeating it.</summary>
    public class SecucardTimeoutException : SecucardException
    {
        internal SecucardTimeoutException(ErrorInfo e) : base(e) { }
    }

    /// <summary>
    /// The library canceled the call (secucard_cancel, or the client was closed while
    /// it was in flight). A Task canceled through its own CancellationToken is not
    /// faulted with this exception: it ends in the Canceled state instead.
    /// </summary>
    public class CanceledException : SecucardException
    {
        internal CanceledException(ErrorInfo e) : base(e) { }
    }

    /// <summary>The client was closed with Close(). (After Dispose() calls throw ObjectDisposedException instead.)</summary>
    public class ClosedException : SecucardException
    {
        internal ClosedException(ErrorInfo e) : base(e) { }
    }

    /// <summary>Token storage failed (SQLite file, or the host storage delegates).</summary>
    public class StorageException : SecucardException
    {
        internal StorageException(ErrorInfo e) : base(e) { }
    }

    /// <summary>A bug in the library or the binding; the message says what.</summary>
    public class InternalException : SecucardException
    {
        internal InternalException(ErrorInfo e) : base(e) { }
    }

    /// <summary>The fields of one error JSON.</summary>
    internal sealed class ErrorInfo
    {
        public int Status;
        public string Type, Message, Reason, Op, Field, Raw;
        public string Error, ErrorDetails, ErrorUser, Code, SupportId;
        public string Outcome, IdempotencyKey, ObjectId, TransactionJson;
        public string RespStat, RespCode, RespText, RespProc, Retref, AvsResp, CvvResp, OrderId;
        public long? RetryAfterMs;
        public int HttpStatus;
        public bool Retryable;
    }

    internal static class Errors
    {
        /// <summary>
        /// THE mapping from the library's error JSON to an exception. status is the
        /// code the function returned; json the error JSON (may be null or, defensively,
        /// unreadable - the status code then decides).
        /// </summary>
        public static SecucardException FromJson(int status, string json)
        {
            return FromJson(status, json, null);
        }

        /// <summary>
        /// For the functions that return only a status (no error JSON): the message
        /// names the binding member that failed, since the library gives no detail.
        /// </summary>
        public static SecucardException FromStatus(int status, string member)
        {
            return FromJson(status, null, member);
        }

        static SecucardException FromJson(int status, string json, string member)
        {
            var e = new ErrorInfo { Status = status, Raw = json };
            Dictionary<string, object> o = null;
            if (!string.IsNullOrEmpty(json))
            {
                try { o = Json.Parse(json) as Dictionary<string, object>; }
                catch (FormatException) { o = null; }
            }
            if (o != null)
            {
                try
                {
                    Dictionary<string, string> raw;
                    Json.ParseObject(json, out raw);
                    string tx;
                    if (raw.TryGetValue("transaction", out tx)) e.TransactionJson = tx;
                }
                catch (FormatException) { }
                e.Status = (int)Json.Long(o, "status", status);
                e.Type = Json.Str(o, "type");
                e.Message = Json.Str(o, "message");
                e.Reason = Json.Str(o, "reason");
                e.Op = Json.Str(o, "op");
                e.Field = Json.Str(o, "field");
                e.Error = Json.Str(o, "error");
                e.ErrorDetails = Json.Str(o, "error_details");
                e.ErrorUser = Json.Str(o, "error_user");
                e.Code = Json.Str(o, "code");
                long code = Json.Long(o, "code", long.MinValue); // "code" is a string by contract; tolerate a number
                if (e.Code == null && code != long.MinValue) e.Code = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
                e.SupportId = Json.Str(o, "support_id");
                e.HttpStatus = (int)Json.Long(o, "http_status", 0);
                e.Retryable = Json.Bool(o, "retryable", false);
                e.Outcome = Json.Str(o, "outcome");
                e.IdempotencyKey = Json.Str(o, "idempotency_key");
                e.ObjectId = Json.Str(o, "object_id");
                e.RespStat = Json.Str(o, "respstat");
                e.RespCode = Json.Str(o, "respcode");
                e.RespText = Json.Str(o, "resptext");
                e.RespProc = Json.Str(o, "respproc");
                e.Retref = Json.Str(o, "retref");
                e.AvsResp = Json.Str(o, "avsresp");
                e.CvvResp = Json.Str(o, "cvvresp");
                e.OrderId = Json.Str(o, "orderid");
                long retryAfter = Json.Long(o, "retry_after_ms", long.MinValue);
                if (retryAfter != long.MinValue) e.RetryAfterMs = retryAfter;
            }
            if (e.Type == null) e.Type = TypeOfStatus(e.Status);
            if (string.IsNullOrEmpty(e.Message))
                e.Message = (member != null ? member + " failed: " : "libsecucard: ") + SafeStatusName(e.Status) + " (status " + e.Status + ")";
            if (string.IsNullOrEmpty(e.Raw)) e.Raw = "{\"status\":" + e.Status + ",\"type\":" + Json.Quote(e.Type) + ",\"message\":" + Json.Quote(e.Message) + ",\"retryable\":false}";

            switch (e.Type)
            {
                case "invalid_argument": return new InvalidArgumentException(e);
                case "invalid_handle": return new InvalidHandleException(e);
                case "auth":
                    switch (e.Reason)
                    {
                        case "canceled": return new AuthCanceledException(e);
                        case "denied": return new AuthDeniedException(e);
                        case "timeout": return new AuthTimeoutException(e);
                        case "expired": return new AuthExpiredException(e);
                        default: return new AuthException(e);
                    }
                case "api": return new ApiException(e);
                case "declined": return new SecucardDeclinedException(e);
                case "network": return new NetworkException(e);
                case "timeout": return new SecucardTimeoutException(e);
                case "canceled": return new CanceledException(e);
                case "closed": return new ClosedException(e);
                case "storage": return new StorageException(e);
                case "internal": return new InternalException(e);
                default: return new SecucardException(e); // a type added after this binding was written
            }
        }

        /// <summary>The error type a status code stands for, when no JSON says it.</summary>
        static string TypeOfStatus(int status)
        {
            switch (status)
            {
                case Native.ErrInvalidArgument: return "invalid_argument";
                case Native.ErrInvalidHandle: return "invalid_handle";
                case Native.ErrAuth: return "auth";
                case Native.ErrApi: return "api";
                case Native.ErrDeclined: return "declined";
                case Native.ErrNetwork: return "network";
                case Native.ErrTimeout: return "timeout";
                case Native.ErrCanceled: return "canceled";
                case Native.ErrClosed: return "closed";
                case Native.ErrStorage: return "storage";
                case Native.ErrInternal: return "internal";
                default: return "unknown";
            }
        }

        static string SafeStatusName(int status)
        {
            try { return Native.StatusName(status); }
            catch (Exception) { return "error"; } // the mapping must work even if the library cannot be called
        }

        /// <summary>Throws the exception for a failed status, consuming the error JSON pointer.</summary>
        public static void Check(int status, IntPtr errJson)
        {
            string json = Native.TakeString(errJson); // frees even on success
            if (status != Native.OK) throw FromJson(status, json);
        }
    }
}
