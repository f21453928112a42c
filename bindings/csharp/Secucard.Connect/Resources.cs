// Resources.cs - the resource surface: client.Resource("loyalty.cards").Get(id),
// client.Smart.Transactions.Start(id, "demo"), ... Each method only builds the
// request JSON the header documents and hands it to SecucardClient.Call /
// CallAsync; the library validates it, picks the channel and does the rest.

using System;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Secucard.Connect
{
    /// <summary>
    /// One resource, addressed as "product.resource". Data and query arguments are
    /// JSON text; answers are JSON text (see <see cref="SecucardClient.Call"/>).
    /// </summary>
    public class Resource
    {
        /// <summary>The client the calls go through.</summary>
        protected SecucardClient Client { get; private set; }

        /// <summary>"product.resource", e.g. "smart.transactions".</summary>
        public string Name { get; private set; }

        internal Resource(SecucardClient client, string name)
        {
            Client = client;
            Name = name;
        }

        /// <summary>Gets one object.</summary>
        public string Get(string id) { return Client.Call(Request("get", id)); }
        /// <summary>Gets one object.</summary>
        public Task<string> GetAsync(string id, CancellationToken cancellationToken = default(CancellationToken))
        {
            return Client.CallAsync(Request("get", id), cancellationToken);
        }

        /// <summary>Lists objects. <paramref name="queryJson"/> is an optional query object,
        /// e.g. <c>{"count":10,"sort":{"created":"desc"},"q":"status:ok"}</c>. Returns
        /// <c>{"count":total,"data":[...]}</c>.</summary>
        public string List(string queryJson = null) { return Client.Call(Request("list", query: queryJson)); }
        /// <summary>Lists objects.</summary>
        public Task<string> ListAsync(string queryJson = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            return Client.CallAsync(Request("list", query: queryJson), cancellationToken);
        }

        /// <summary>Creates an object from <paramref name="dataJson"/> and returns it.</summary>
        public string Create(string dataJson) { return Client.Call(Request("create", data: Required(dataJson, "dataJson"))); }
        /// <summary>Creates an object.</summary>
        public Task<string> CreateAsync(string dataJson, CancellationToken cancellationToken = default(CancellationToken))
        {
            return Client.CallAsync(Request("create", data: Required(dataJson, "dataJson")), cancellationToken);
        }

        /// <summary>Updates an object with <paramref name="dataJson"/> and returns it.</summary>
        public string Update(string id, string dataJson) { return Client.Call(Request("update", id, data: Required(dataJson, "dataJson"))); }
        /// <summary>Updates an object.</summary>
        public Task<string> UpdateAsync(string id, string dataJson, CancellationToken cancellationToken = default(CancellationToken))
        {
            return Client.CallAsync(Request("update", id, data: Required(dataJson, "dataJson")), cancellationToken);
        }

        /// <summary>Deletes an object; returns the server's answer ("null" when it sent none).</summary>
        public string Delete(string id) { return Client.Call(Request("delete", id)); }
        /// <summary>Deletes an object.</summary>
        public Task<string> DeleteAsync(string id, CancellationToken cancellationToken = default(CancellationToken))
        {
            return Client.CallAsync(Request("delete", id), cancellationToken);
        }

        /// <summary>Executes a custom action, e.g. <c>Execute("STX_1", "start", "demo")</c>.
        /// <paramref name="id"/> may be null for actions without an object.</summary>
        public string Execute(string id, string action, string arg = null, string dataJson = null)
        {
            return Client.Call(Request("execute", id, action, arg, dataJson));
        }
        /// <summary>Executes a custom action.</summary>
        public Task<string> ExecuteAsync(string id, string action, string arg = null, string dataJson = null,
                                         CancellationToken cancellationToken = default(CancellationToken))
        {
            return Client.CallAsync(Request("execute", id, action, arg, dataJson), cancellationToken);
        }

        static string Required(string json, string name)
        {
            if (json == null) throw new ArgumentNullException(name);
            return json;
        }

        /// <summary>Builds the request JSON. JSON arguments are checked to be exactly one
        /// JSON value, so that text spliced into the request cannot add or change keys.</summary>
        internal string Request(string op, string id = null, string action = null, string arg = null, string data = null, string query = null)
        {
            var b = new StringBuilder(128);
            b.Append("{\"resource\":").Append(Json.Quote(Name));
            b.Append(",\"op\":").Append(Json.Quote(op));
            if (id != null) b.Append(",\"id\":").Append(Json.Quote(id));
            if (action != null) b.Append(",\"action\":").Append(Json.Quote(action));
            if (arg != null) b.Append(",\"arg\":").Append(Json.Quote(arg));
            if (query != null)
            {
                CheckJson(query, "queryJson", true);
                b.Append(",\"query\":").Append(query);
            }
            if (data != null)
            {
                CheckJson(data, "dataJson", false);
                b.Append(",\"data\":").Append(data);
            }
            b.Append('}');
            return b.ToString();
        }

        static void CheckJson(string json, string param, bool objectOnly)
        {
            object v;
            try { v = Json.Parse(json); }
            catch (FormatException e) { throw new ArgumentException(param + " is not valid JSON: " + e.Message, param, e); }
            if (objectOnly && !(v is System.Collections.Generic.Dictionary<string, object>))
                throw new ArgumentException(param + " must be a JSON object", param);
        }
    }

    /// <summary>smart.transactions with the POS actions.</summary>
    public sealed class SmartTransactions : Resource
    {
        internal SmartTransactions(SecucardClient client) : base(client, "smart.transactions") { }

        /// <summary>Starts the payment of a created transaction on the terminal;
        /// <paramref name="type"/> is the payment type, e.g. "demo", "cash", "auto".
        /// Returns the paid transaction with its receipt. A payment that ended without being
        /// made throws <see cref="SecucardDeclinedException"/>, whose TransactionJson holds the
        /// transaction and its receipt.</summary>
        public string Start(string id, string type) { return Execute(Required(id, "id"), "start", Required(type, "type")); }
        /// <summary>Starts the payment.</summary>
        public Task<string> StartAsync(string id, string type, CancellationToken cancellationToken = default(CancellationToken))
        {
            return ExecuteAsync(Required(id, "id"), "start", Required(type, "type"), null, cancellationToken);
        }

        /// <summary>Cancels a transaction.</summary>
        public string Cancel(string id) { return Execute(Required(id, "id"), "cancel"); }
        /// <summary>Cancels a transaction.</summary>
        public Task<string> CancelAsync(string id, CancellationToken cancellationToken = default(CancellationToken))
        {
            return ExecuteAsync(Required(id, "id"), "cancel", null, null, cancellationToken);
        }

        /// <summary>Runs the terminal diagnosis.</summary>
        public string Diagnosis() { return Execute(null, "Diagnosis"); }

        /// <summary>Runs the end-of-day closing ("Kassenschnitt").</summary>
        public string EndOfDay() { return Execute(null, "EndofDay"); }

        /// <summary>Cancels (reverses) a completed payment by its receipt number.</summary>
        public string CancelTrx(string receiptNumber) { return Execute(Required(receiptNumber, "receiptNumber"), "cancelTrx"); }

        static string Required(string s, string name)
        {
            if (s == null) throw new ArgumentNullException(name);
            return s;
        }
    }

    /// <summary>The smart product: the POS core.</summary>
    public sealed class SmartProduct
    {
        internal SmartProduct(SecucardClient client)
        {
            Transactions = new SmartTransactions(client);
            Idents = new Resource(client, "smart.idents");
            Checkins = new Resource(client, "smart.checkins");
        }

        /// <summary>smart.transactions.</summary>
        public SmartTransactions Transactions { get; private set; }
        /// <summary>smart.idents (customer cards, check-ins).</summary>
        public Resource Idents { get; private set; }
        /// <summary>smart.checkins.</summary>
        public Resource Checkins { get; private set; }
    }
}
