// CardPointe.cs - client.CardPointe: the CardPointe Gateway operations. Each
// method only builds the request JSON the header documents
// ({"system":"cardpointe","op":...,"data":{...}}) and hands it to
// SecucardClient.Call / CallAsync; the library does the rest (HTTP Basic,
// amounts, answers, the recovery of a lost auth).

using System;
using System.Globalization;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Secucard.Connect
{
    /// <summary>
    /// The CardPointe Gateway of a client whose config has a "cardpointe" section.
    /// Amounts are <c>long</c> minor units (cents): 1999 is 19.99. Answers are the
    /// Gateway's JSON text plus "amount_minor" next to each decimal amount and, for
    /// auths, "requested_minor", "partial", "orderid", "recovered" and (when the timeout
    /// recovery voided a second approval) "voided_duplicate". A decline throws
    /// <see cref="SecucardDeclinedException"/> carrying the Gateway's fields
    /// (<see cref="SecucardException.RespCode"/>, ...); a temporary one
    /// (<see cref="SecucardDeclinedException.Temporary"/>) is retryable. The
    /// <c>dataJson</c> overloads take the Gateway's fields as a JSON object, named exactly
    /// as the header lists them.
    /// </summary>
    public sealed class CardPointe
    {
        readonly SecucardClient client;

        internal CardPointe(SecucardClient client) { this.client = client; }

        /// <summary>Runs any operation by its name in the header ("voidByOrderId", ...).
        /// <paramref name="dataJson"/> is a JSON object of the Gateway's fields or null;
        /// <paramref name="timeoutMs"/> bounds the wait for one answer (0: the config's).</summary>
        public string Call(string op, string dataJson = null, int timeoutMs = 0)
        {
            return client.Call(Request(op, dataJson, timeoutMs));
        }

        /// <summary><see cref="Call"/> without blocking a thread.</summary>
        public Task<string> CallAsync(string op, string dataJson = null, int timeoutMs = 0,
                                      CancellationToken cancellationToken = default(CancellationToken))
        {
            return client.CallAsync(Request(op, dataJson, timeoutMs), cancellationToken);
        }

        // ---- operations ----

        /// <summary>Checks the credentials and merchid; <see cref="AuthException"/> when refused.</summary>
        public string TestCredentials() { return Call("testCredentials"); }
        /// <summary>Checks the credentials and merchid.</summary>
        public Task<string> TestCredentialsAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("testCredentials", null, 0, cancellationToken);
        }

        /// <summary>CardSecure: a token for a card. Authorize the token afterwards, so the card
        /// number crosses the library once.</summary>
        public string Tokenize(string account, string expiry = null, string cvv = null)
        {
            return Call("tokenize", TokenizeData(account, expiry, cvv));
        }
        /// <summary>CardSecure: a token for a card.</summary>
        public Task<string> TokenizeAsync(string account, string expiry = null, string cvv = null,
                                          CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("tokenize", TokenizeData(account, expiry, cvv), 0, cancellationToken);
        }

        /// <summary>An authorization of <paramref name="amount"/> minor units on an account (a
        /// token, a card or a bank account). <paramref name="capture"/>: a sale; 0: an account
        /// verification; negative: a forced credit. Without <paramref name="orderId"/> the
        /// library generates one; a lost answer is recovered by it before anything is repeated.</summary>
        public string Auth(long amount, string account, string expiry = null, bool capture = false, string orderId = null)
        {
            return Call("auth", AuthData(amount, account, expiry, capture, orderId));
        }
        /// <summary>An authorization (see <see cref="Auth(long, string, string, bool, string)"/>).</summary>
        public Task<string> AuthAsync(long amount, string account, string expiry = null, bool capture = false, string orderId = null,
                                      CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("auth", AuthData(amount, account, expiry, capture, orderId), 0, cancellationToken);
        }
        /// <summary>An authorization with any of the Gateway's auth fields, e.g.
        /// <c>{"account":"9418594164541111","expiry":"1230","amount":1999,"capture":true,"cvv2":"123","postal":"19406"}</c>.</summary>
        public string Auth(string dataJson) { return Call("auth", Required(dataJson, "dataJson")); }
        /// <summary>An authorization with any of the Gateway's auth fields.</summary>
        public Task<string> AuthAsync(string dataJson, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("auth", Required(dataJson, "dataJson"), 0, cancellationToken);
        }

        /// <summary>Captures an authorization (all of it, or <paramref name="amount"/> minor units).</summary>
        public string Capture(string retref, long? amount = null) { return Call("capture", Keyed("retref", retref, amount)); }
        /// <summary>Captures an authorization.</summary>
        public Task<string> CaptureAsync(string retref, long? amount = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("capture", Keyed("retref", retref, amount), 0, cancellationToken);
        }

        /// <summary>Voids a transaction before settlement.</summary>
        public string Void(string retref, long? amount = null) { return Call("void", Keyed("retref", retref, amount)); }
        /// <summary>Voids a transaction before settlement.</summary>
        public Task<string> VoidAsync(string retref, long? amount = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("void", Keyed("retref", retref, amount), 0, cancellationToken);
        }

        /// <summary>Voids by orderid (op "voidByOrderId").</summary>
        public string VoidByOrderId(string orderId, long? amount = null) { return Call("voidByOrderId", Keyed("orderid", orderId, amount)); }
        /// <summary>Voids by orderid.</summary>
        public Task<string> VoidByOrderIdAsync(string orderId, long? amount = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("voidByOrderId", Keyed("orderid", orderId, amount), 0, cancellationToken);
        }

        /// <summary>Refunds a settled transaction (all of it, or <paramref name="amount"/> minor units).</summary>
        public string Refund(string retref, long? amount = null) { return Call("refund", Keyed("retref", retref, amount)); }
        /// <summary>Refunds a settled transaction.</summary>
        public Task<string> RefundAsync(string retref, long? amount = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("refund", Keyed("retref", retref, amount), 0, cancellationToken);
        }

        /// <summary>Looks a transaction up by its retref.</summary>
        public string Inquire(string retref) { return Call("inquire", Keyed("retref", retref, null)); }
        /// <summary>Looks a transaction up by its retref.</summary>
        public Task<string> InquireAsync(string retref, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("inquire", Keyed("retref", retref, null), 0, cancellationToken);
        }

        /// <summary>Looks transactions up by orderid (op "inquireByOrderid"): one record, or an
        /// array when several carry it.</summary>
        public string InquireByOrderId(string orderId) { return Call("inquireByOrderid", Keyed("orderid", orderId, null)); }
        /// <summary>Looks transactions up by orderid.</summary>
        public Task<string> InquireByOrderIdAsync(string orderId, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("inquireByOrderid", Keyed("orderid", orderId, null), 0, cancellationToken);
        }

        /// <summary>Settlement batches by <paramref name="date"/> (MMDD or YYYYMMDD) or
        /// <paramref name="batchId"/>; neither: those settled since the last such call.</summary>
        public string SettleStat(string date = null, string batchId = null) { return Call("settlestat", Fields().Str("date", date).Str("batchid", batchId).Done()); }
        /// <summary>Settlement batches.</summary>
        public Task<string> SettleStatAsync(string date = null, string batchId = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("settlestat", Fields().Str("date", date).Str("batchid", batchId).Done(), 0, cancellationToken);
        }

        /// <summary>Funding of a day (MMDD or YYYYMMDD); amounts there are integers of minor units.</summary>
        public string Funding(string date = null) { return Call("funding", Fields().Str("date", date).Done()); }
        /// <summary>Funding of a day.</summary>
        public Task<string> FundingAsync(string date = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("funding", Fields().Str("date", date).Done(), 0, cancellationToken);
        }

        /// <summary>Stores a card: <c>{"account":"9418594164541111","expiry":"1230","name":"..."}</c>.</summary>
        public string ProfileCreate(string dataJson) { return Call("profileCreate", Required(dataJson, "dataJson")); }
        /// <summary>Stores a card.</summary>
        public Task<string> ProfileCreateAsync(string dataJson, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("profileCreate", Required(dataJson, "dataJson"), 0, cancellationToken);
        }

        /// <summary>Updates a stored account: <c>{"profile":"&lt;profileid&gt;/&lt;acctid&gt;","postal":"19406"}</c>.</summary>
        public string ProfileUpdate(string dataJson) { return Call("profileUpdate", Required(dataJson, "dataJson")); }
        /// <summary>Updates a stored account.</summary>
        public Task<string> ProfileUpdateAsync(string dataJson, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("profileUpdate", Required(dataJson, "dataJson"), 0, cancellationToken);
        }

        /// <summary>The accounts of a profile (an array; one with <paramref name="acctId"/>).</summary>
        public string ProfileGet(string profileId, string acctId = null) { return Call("profileGet", Profile(profileId, acctId)); }
        /// <summary>The accounts of a profile.</summary>
        public Task<string> ProfileGetAsync(string profileId, string acctId = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("profileGet", Profile(profileId, acctId), 0, cancellationToken);
        }

        /// <summary>Deletes a profile, or one account of it.</summary>
        public string ProfileDelete(string profileId, string acctId = null) { return Call("profileDelete", Profile(profileId, acctId)); }
        /// <summary>Deletes a profile, or one account of it.</summary>
        public Task<string> ProfileDeleteAsync(string profileId, string acctId = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("profileDelete", Profile(profileId, acctId), 0, cancellationToken);
        }

        /// <summary>BIN data of a token.</summary>
        public string Bin(string token) { return Call("bin", Keyed("token", token, null)); }
        /// <summary>BIN data of a token.</summary>
        public Task<string> BinAsync(string token, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("bin", Keyed("token", token, null), 0, cancellationToken);
        }

        /// <summary>Stores a cardholder signature (Base64 of a gzipped BMP) on a transaction.</summary>
        public string SigCap(string retref, string signature)
        {
            return Call("sigcap", Fields().Str("retref", Required(retref, "retref")).Str("signature", Required(signature, "signature")).Done());
        }
        /// <summary>Stores a cardholder signature on a transaction.</summary>
        public Task<string> SigCapAsync(string retref, string signature, CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("sigcap", Fields().Str("retref", Required(retref, "retref")).Str("signature", Required(signature, "signature")).Done(), 0, cancellationToken);
        }

        /// <summary>The merchant's configuration at the Gateway.</summary>
        public string InquireMerchant() { return Call("inquireMerchant"); }
        /// <summary>The merchant's configuration at the Gateway.</summary>
        public Task<string> InquireMerchantAsync(CancellationToken cancellationToken = default(CancellationToken))
        {
            return CallAsync("inquireMerchant", null, 0, cancellationToken);
        }

        // ---- request building ----

        static string TokenizeData(string account, string expiry, string cvv)
        {
            return Fields().Str("account", Required(account, "account")).Str("expiry", expiry).Str("cvv", cvv).Done();
        }

        static string AuthData(long amount, string account, string expiry, bool capture, string orderId)
        {
            var f = Fields().Str("account", Required(account, "account")).Num("amount", amount).Str("expiry", expiry).Str("orderid", orderId);
            if (capture) f.Raw("capture", "true");
            return f.Done();
        }

        static string Keyed(string key, string value, long? amount)
        {
            var f = Fields().Str(key, Required(value, key));
            if (amount.HasValue) f.Num("amount", amount.Value);
            return f.Done();
        }

        static string Profile(string profileId, string acctId)
        {
            return Fields().Str("profileid", Required(profileId, "profileId")).Str("acctid", acctId).Done();
        }

        static string Required(string s, string name)
        {
            if (s == null) throw new ArgumentNullException(name);
            return s;
        }

        /// <summary>The request JSON; dataJson must be exactly one JSON object, so text
        /// spliced into the request cannot add or change keys.</summary>
        internal static string Request(string op, string dataJson, int timeoutMs)
        {
            if (op == null) throw new ArgumentNullException("op");
            var b = new StringBuilder(128);
            b.Append("{\"system\":\"cardpointe\",\"op\":").Append(Json.Quote(op));
            if (dataJson != null)
            {
                object v;
                try { v = Json.Parse(dataJson); }
                catch (FormatException e) { throw new ArgumentException("dataJson is not valid JSON: " + e.Message, "dataJson", e); }
                if (!(v is System.Collections.Generic.Dictionary<string, object>))
                    throw new ArgumentException("dataJson must be a JSON object", "dataJson");
                b.Append(",\"data\":").Append(dataJson);
            }
            if (timeoutMs > 0) b.Append(",\"timeout_ms\":").Append(timeoutMs.ToString(CultureInfo.InvariantCulture));
            return b.Append('}').ToString();
        }

        static FieldBuilder Fields() { return new FieldBuilder(); }

        /// <summary>Builds a data object; null values are left out.</summary>
        sealed class FieldBuilder
        {
            readonly StringBuilder b = new StringBuilder("{");

            public FieldBuilder Str(string key, string value) { return value == null ? this : Raw(key, Json.Quote(value)); }
            public FieldBuilder Num(string key, long value) { return Raw(key, value.ToString(CultureInfo.InvariantCulture)); }

            public FieldBuilder Raw(string key, string json)
            {
                if (b.Length > 1) b.Append(',');
                b.Append(Json.Quote(key)).Append(':').Append(json);
                return this;
            }

            public string Done() { return b.ToString() + "}"; }
        }
    }
}
