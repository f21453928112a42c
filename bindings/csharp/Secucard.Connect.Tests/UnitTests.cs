// UnitTests.cs - the binding's own logic that needs no sandbox: the JSON reader,
// the error mapping, the ABI check and the request builder. (Namespace outside
// Secucard.Connect.Tests, so these run even when the sandbox cannot start.)

using System;
using System.Collections.Generic;
using NUnit.Framework;

namespace Secucard.Connect.UnitTests
{
    [TestFixture]
    public class JsonReaderTests
    {
        [Test]
        public void ParsesObjectsArraysAndScalars()
        {
            var o = Json.ParseObject("{\"s\":\"x\",\"i\":42,\"neg\":-7,\"f\":1.5,\"e\":2e3,\"t\":true,\"n\":null,\"a\":[1,\"b\",{}],\"o\":{\"k\":false}}");
            Assert.AreEqual("x", o["s"]);
            Assert.AreEqual(42L, o["i"]);
            Assert.AreEqual(-7L, o["neg"]);
            Assert.AreEqual(1.5, o["f"]);
            Assert.AreEqual(2000.0, o["e"]);
            Assert.AreEqual(true, o["t"]);
            Assert.IsNull(o["n"]);
            Assert.IsTrue(o.ContainsKey("n"));
            var a = (List<object>)o["a"];
            Assert.AreEqual(3, a.Count);
            Assert.AreEqual(1L, a[0]);
            Assert.AreEqual("b", a[1]);
            Assert.IsInstanceOf<Dictionary<string, object>>(a[2]);
            Assert.AreEqual(false, ((Dictionary<string, object>)o["o"])["k"]);
        }

        [Test]
        public void NumbersTooLargeForLongBecomeDouble()
        {
            Assert.AreEqual(1e20, (double)Json.Parse("100000000000000000000"), 1e5);
            Assert.AreEqual(long.MaxValue, Json.Parse("9223372036854775807"));
        }

        [Test]
        public void DecodesEscapesAndUnicode()
        {
            Assert.AreEqual("a\"b\\c/d\b\f\n\r\t", Json.Parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""));
            Assert.AreEqual("M\u00fcller \u20ac", Json.Parse("\"M\\u00fcller \\u20AC\""));
            // A character outside the BMP written as an escaped surrogate pair, and raw.
            Assert.AreEqual("\U0001F37A", Json.Parse("\"\\ud83c\\udf7a\""));
            Assert.AreEqual("\U0001F37A", Json.Parse("\"\U0001F37A\""));
        }

        [Test]
        public void KeepsTheRawTextOfTopLevelMembers()
        {
            Dictionary<string, string> raw;
            var o = Json.ParseObject("{ \"kind\" : \"push\", \"data\" : {\"a\": [1, 2.50, \"x\"]} , \"n\":null}", out raw);
            Assert.AreEqual("push", o["kind"]);
            Assert.AreEqual("{\"a\": [1, 2.50, \"x\"]}", raw["data"]); // byte-exact, e.g. 2.50 stays 2.50
            Assert.AreEqual("null", raw["n"]);
            Assert.AreEqual("\"push\"", raw["kind"]);
        }

        [TestCase("")]
        [TestCase("{")]
        [TestCase("{\"a\":}")]
        [TestCase("{\"a\":1,}")]
        [TestCase("[1,]")]
        [TestCase("{a:1}")]
        [TestCase("\"unterminated")]
        [TestCase("\"bad \\x escape\"")]
        [TestCase("\"ctrl \u0001\"")]
        [TestCase("01")]
        [TestCase("1.")]
        [TestCase("-")]
        [TestCase("tru")]
        [TestCase("{} {}")]
        [TestCase("nul")]
        public void RejectsMalformedInput(string text)
        {
            Assert.Throws<FormatException>(() => Json.Parse(text));
        }

        [Test]
        public void RejectsAbsurdNesting()
        {
            Assert.Throws<FormatException>(() => Json.Parse(new string('[', 500) + new string(']', 500)));
            Assert.DoesNotThrow(() => Json.Parse(new string('[', 100) + new string(']', 100)));
        }

        [Test]
        public void ParseObjectRefusesNonObjects()
        {
            Assert.Throws<FormatException>(() => Json.ParseObject("[1]"));
            Assert.Throws<FormatException>(() => Json.ParseObject("\"s\""));
        }

        [Test]
        public void QuoteRoundTrips()
        {
            foreach (var s in new[] { "", "plain", "quote \" backslash \\ slash /", "ctl \u0000\u0001\u001f\n\t", "M\u00fcller \U0001F37A \u2028" })
            {
                string q = Json.Quote(s);
                Assert.AreEqual(s, Json.Parse(q), q);
                foreach (char c in q) Assert.IsFalse(c < 0x20, "unescaped control character in " + q);
            }
            Assert.AreEqual("null", Json.Quote(null));
        }

        [Test]
        public void TypedAccessorsReturnFallbacksForOtherTypes()
        {
            var o = Json.ParseObject("{\"s\":\"1\",\"n\":5,\"b\":true}");
            Assert.AreEqual("1", Json.Str(o, "s"));
            Assert.IsNull(Json.Str(o, "n"));
            Assert.IsNull(Json.Str(o, "missing"));
            Assert.AreEqual(5, Json.Long(o, "n", -1));
            Assert.AreEqual(-1, Json.Long(o, "s", -1));
            Assert.AreEqual(true, Json.Bool(o, "b", false));
            Assert.AreEqual(false, Json.Bool(o, "n", false));
        }
    }

    [TestFixture]
    public class ErrorMappingTests
    {
        static SecucardException Map(string json) { return Errors.FromJson(99, json); }

        [Test]
        public void InvalidArgumentCarriesTheField()
        {
            string json = "{\"status\":1,\"type\":\"invalid_argument\",\"message\":\"credentials.client_id: is required\",\"field\":\"credentials.client_id\",\"retryable\":false}";
            var e = Map(json);
            Assert.IsInstanceOf<InvalidArgumentException>(e);
            Assert.AreEqual("credentials.client_id", ((InvalidArgumentException)e).Field);
            Assert.AreEqual(1, e.Status);
            Assert.AreEqual("invalid_argument", e.Type);
            Assert.AreEqual("credentials.client_id: is required", e.Message);
            Assert.AreEqual(json, e.RawJson);
            Assert.IsFalse(e.Retryable);
        }

        [TestCase("denied", typeof(AuthDeniedException))]
        [TestCase("canceled", typeof(AuthCanceledException))]
        [TestCase("timeout", typeof(AuthTimeoutException))]
        [TestCase("expired", typeof(AuthExpiredException))]
        [TestCase("invalid_grant", typeof(AuthException))]
        [TestCase("no_credentials", typeof(AuthException))]
        [TestCase("not_authorized", typeof(AuthException))]
        [TestCase("token_rejected", typeof(AuthException))]
        [TestCase(null, typeof(AuthException))]
        public void AuthReasonsPickTheSubclass(string reason, Type expected)
        {
            string json = "{\"status\":3,\"type\":\"auth\",\"message\":\"m\"" + (reason != null ? ",\"reason\":" + Json.Quote(reason) : "") + ",\"retryable\":false}";
            var e = Map(json);
            Assert.AreEqual(expected, e.GetType());
            Assert.IsInstanceOf<AuthException>(e);
            Assert.AreEqual(reason, e.Reason);
        }

        [Test]
        public void ApiErrorCarriesTheEnvelope()
        {
            var e = Map("{\"status\":4,\"type\":\"api\",\"op\":\"smart.transactions.get\",\"message\":\"not found\",\"http_status\":404," +
                        "\"error\":\"ProductNotFoundException\",\"error_details\":\"no such object\",\"error_user\":\"Nicht gefunden\"," +
                        "\"code\":\"1234\",\"support_id\":\"abc123\",\"retryable\":false}");
            var a = (ApiException)e;
            Assert.AreEqual(404, a.HttpStatus);
            Assert.AreEqual("ProductNotFoundException", a.Error);
            Assert.AreEqual("no such object", a.ErrorDetails);
            Assert.AreEqual("Nicht gefunden", a.ErrorUser);
            Assert.AreEqual("1234", a.Code);
            Assert.AreEqual("abc123", a.SupportId);
            Assert.AreEqual("smart.transactions.get", a.Op);
        }

        [Test]
        public void WhatIsSafeNextIsAProperty()
        {
            var e = Map("{\"status\":7,\"type\":\"timeout\",\"message\":\"no answer\",\"retryable\":true," +
                        "\"outcome\":\"unknown\",\"idempotency_key\":\"till7-42\",\"retry_after_ms\":120000,\"object_id\":\"STX_1\"}");
            Assert.IsTrue(e.Retryable);
            Assert.AreEqual("unknown", e.Outcome);
            Assert.AreEqual("till7-42", e.IdempotencyKey);
            Assert.AreEqual(120000L, e.RetryAfterMs);
            Assert.AreEqual("STX_1", e.ObjectId);
            var bare = Map("{\"status\":1,\"type\":\"invalid_argument\",\"message\":\"m\",\"retryable\":false}");
            Assert.IsNull(bare.Outcome);
            Assert.IsNull(bare.IdempotencyKey);
            Assert.IsNull(bare.RetryAfterMs);
            Assert.IsNull(bare.ObjectId);
        }

        [Test]
        public void NumericCodeIsTolerated()
        {
            var a = (ApiException)Map("{\"status\":4,\"type\":\"api\",\"message\":\"m\",\"code\":417,\"retryable\":false}");
            Assert.AreEqual("417", a.Code);
        }

        [TestCase("declined", typeof(SecucardDeclinedException))]
        [TestCase("invalid_handle", typeof(InvalidHandleException))]
        [TestCase("network", typeof(NetworkException))]
        [TestCase("timeout", typeof(SecucardTimeoutException))]
        [TestCase("canceled", typeof(CanceledException))]
        [TestCase("closed", typeof(ClosedException))]
        [TestCase("storage", typeof(StorageException))]
        [TestCase("internal", typeof(InternalException))]
        [TestCase("something_new", typeof(SecucardException))]
        public void TypePicksTheClass(string type, Type expected)
        {
            var e = Map("{\"status\":6,\"type\":" + Json.Quote(type) + ",\"message\":\"m\",\"retryable\":true}");
            Assert.AreEqual(expected, e.GetType());
            Assert.AreEqual(type, e.Type);
            Assert.IsTrue(e.Retryable);
        }

        [Test]
        public void DeclinedCarriesCodeAndCustomerMessage()
        {
            var d = (DeclinedException)Map("{\"status\":5,\"type\":\"declined\",\"message\":\"declined\",\"code\":\"05\",\"error_user\":\"Karte abgelehnt\",\"retryable\":false}");
            Assert.AreEqual("05", d.Code);
            Assert.AreEqual("Karte abgelehnt", d.ErrorUser);
        }

        [TestCase(1, typeof(InvalidArgumentException))]
        [TestCase(2, typeof(InvalidHandleException))]
        [TestCase(3, typeof(AuthException))]
        [TestCase(4, typeof(ApiException))]
        [TestCase(5, typeof(SecucardDeclinedException))]
        [TestCase(6, typeof(NetworkException))]
        [TestCase(7, typeof(SecucardTimeoutException))]
        [TestCase(8, typeof(CanceledException))]
        [TestCase(9, typeof(ClosedException))]
        [TestCase(10, typeof(StorageException))]
        [TestCase(12, typeof(InternalException))]
        public void WithoutJsonTheStatusDecides(int status, Type expected)
        {
            foreach (var json in new[] { null, "", "not json", "[1]" })
            {
                var e = Errors.FromJson(status, json);
                Assert.AreEqual(expected, e.GetType(), "json: " + (json ?? "null"));
                Assert.AreEqual(status, e.Status);
                Assert.IsNotNullOrEmpty(e.Message);
                Assert.IsNotNullOrEmpty(e.RawJson);
            }
        }

        [Test]
        public void TheJsonStatusWinsOverTheReturnedOne()
        {
            var e = Errors.FromJson(12, "{\"status\":7,\"type\":\"timeout\",\"message\":\"m\",\"retryable\":true}");
            Assert.AreEqual(7, e.Status);
            Assert.IsInstanceOf<SecucardTimeoutException>(e);
        }

        [Test]
        public void EveryClassIsASecucardException()
        {
            foreach (var t in new[] { typeof(InvalidArgumentException), typeof(AuthException), typeof(AuthCanceledException), typeof(AuthDeniedException),
                                      typeof(AuthTimeoutException), typeof(AuthExpiredException), typeof(ApiException), typeof(DeclinedException),
                                      typeof(NetworkException), typeof(SecucardTimeoutException), typeof(CanceledException), typeof(ClosedException),
                                      typeof(StorageException), typeof(InternalException) })
                Assert.IsTrue(typeof(SecucardException).IsAssignableFrom(t), t.Name);
        }
    }

    [TestFixture]
    public class KnownCoreBugMarkerTests
    {
        [Test]
        public void PassesWhileTheContractFails()
        {
            Assert.DoesNotThrow(() => Secucard.Connect.Tests.T.ExpectKnownCoreBug("demo bug", () => Assert.AreEqual(1, 2)));
        }

        [Test]
        public void FailsOnceTheContractHolds()
        {
            var e = Assert.Throws<AssertionException>(() => Secucard.Connect.Tests.T.ExpectKnownCoreBug("demo bug", () => Assert.AreEqual(1, 1)));
            StringAssert.Contains("is fixed", e.Message);
        }
    }

    [TestFixture]
    public class AbiCheckTests
    {
        [Test]
        public void MatchingAbiPasses()
        {
            Assert.DoesNotThrow(() => Native.CheckAbi(1, "0.1.0"));
        }

        [Test]
        public void OtherAbiFailsWithAClearMessage()
        {
            var e = Assert.Throws<InvalidOperationException>(() => Native.CheckAbi(2, "1.0.0"));
            StringAssert.Contains("ABI version 2", e.Message);
            StringAssert.Contains("ABI version 1", e.Message);
            StringAssert.Contains("1.0.0", e.Message);
        }
    }

    [TestFixture]
    public class Utf8Tests
    {
        [Test]
        public void EncodesNulTerminatedUtf8()
        {
            byte[] b = Utf8.Encode("M\u00fc\U0001F37A", "s");
            CollectionAssert.AreEqual(new byte[] { 0x4D, 0xC3, 0xBC, 0xF0, 0x9F, 0x8D, 0xBA, 0x00 }, b);
            Assert.IsNull(Utf8.Encode(null, "s"));
        }

        [Test]
        public void RefusesEmbeddedNul()
        {
            var e = Assert.Throws<ArgumentException>(() => Utf8.Encode("a\0b", "requestJson"));
            Assert.AreEqual("requestJson", e.ParamName);
        }

        [Test]
        public void DecodesFromNativeMemory()
        {
            byte[] b = Utf8.Encode("Gr\u00fc\u00dfe \u20ac", "s");
            IntPtr p = System.Runtime.InteropServices.Marshal.AllocHGlobal(b.Length);
            try
            {
                System.Runtime.InteropServices.Marshal.Copy(b, 0, p, b.Length);
                Assert.AreEqual("Gr\u00fc\u00dfe \u20ac", Utf8.Decode(p));
            }
            finally { System.Runtime.InteropServices.Marshal.FreeHGlobal(p); }
            Assert.IsNull(Utf8.Decode(IntPtr.Zero));
        }
    }
    [TestFixture]
    public class RequestBuilderTests
    {
        static readonly Resource Tx = new Resource(null, "smart.transactions");

        [Test]
        public void BuildsTheHeadersRequestJson()
        {
            var o = Json.ParseObject(Tx.Request("execute", "STX_1", "start", "demo", "{\"a\":1}"));
            Assert.AreEqual("smart.transactions", o["resource"]);
            Assert.AreEqual("execute", o["op"]);
            Assert.AreEqual("STX_1", o["id"]);
            Assert.AreEqual("start", o["action"]);
            Assert.AreEqual("demo", o["arg"]);
            Assert.AreEqual(1L, ((Dictionary<string, object>)o["data"])["a"]);
            Assert.IsFalse(o.ContainsKey("query"));
        }

        [Test]
        public void QuotesIdsSoTheyCannotAddKeys()
        {
            var o = Json.ParseObject(Tx.Request("get", "x\",\"op\":\"delete"));
            Assert.AreEqual("get", o["op"]);
            Assert.AreEqual("x\",\"op\":\"delete", o["id"]);
        }

        [Test]
        public void RefusesDataThatIsNotExactlyOneJsonValue()
        {
            var e = Assert.Throws<ArgumentException>(() => Tx.Request("create", data: "{}, \"op\":\"delete\""));
            Assert.AreEqual("dataJson", e.ParamName);
            Assert.Throws<ArgumentException>(() => Tx.Request("create", data: "{"));
        }

        [Test]
        public void QueryMustBeAnObject()
        {
            var e = Assert.Throws<ArgumentException>(() => Tx.Request("list", query: "[1]"));
            Assert.AreEqual("queryJson", e.ParamName);
            var o = Json.ParseObject(Tx.Request("list", query: "{\"count\":2}"));
            Assert.AreEqual(2L, ((Dictionary<string, object>)o["query"])["count"]);
        }
    }
}
