/* analytics_handlers.c: one function per request method and per consumed event. */
#include "analytics_handlers.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/analytics_api.pb-c.h"
#include "crm/v1/contacts.pb-c.h"
#include "crm/v1/feedback.pb-c.h"
#include "crm/v1/loyalty.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"
#include "crm_event.h"
#include "analytics_figures.h"
#include "analytics_fold.h"
#include "analytics_risk.h"
#include "analytics_rfm.h"

#define S_TOKEN_LEN (2 + CRM_ID_LEN)       /* at-risk page token: the score byte in hex, the id */
#define S_RISK_KEY_LEN (1 + CRM_ID_LEN)
#define S_SCORE_MAX 100

typedef struct s_call s_call_t;

/* A method: works in txn (a write transaction for methods that change state) and answers with
 * s_reply, or fails through analytics_fail(&c->err, ...) or with a store error. */
typedef int (*s_method_fn)(crm_txn_t *txn, s_call_t *c);

struct s_call {
    analytics_t *an;
    const analytics_caller_t *caller;
    const ProtobufCMessage *req;
    s_method_fn fn;
    analytics_err_t err;
    uint8_t *body;
    size_t body_len;
};

void analytics_answer_clear(analytics_answer_t *ans)
{
    if (!ans)
        return;
    free(ans->body);
    memset(ans, 0, sizeof *ans);
}

static int s_reply(s_call_t *c, const ProtobufCMessage *msg)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    void *buf = NULL;
    size_t len = 0;
    int rc = crm_codec_pb_encode(msg, &buf, &len);
    if (rc)
        return rc;
    c->body = buf;
    c->body_len = len;
    return 0;
}

/* --- Periods and segments */

/* from and to ("YYYY-MM-DD"): to defaults to today, from to ANALYTICS_DEFAULT_DAYS days up to to. */
static int s_period(s_call_t *c, const char *from_text, const char *to_text, int64_t *from, int64_t *to)
{
    if (to_text[0]) {
        if (analytics_date_parse(to_text, to) != 0)
            return analytics_fail(&c->err, CRM_RPC_INVALID, "to", "to must be a date such as 2025-03-31");
    } else {
        *to = analytics_day(c->an, analytics_now(c->an));
    }
    if (from_text[0]) {
        if (analytics_date_parse(from_text, from) != 0)
            return analytics_fail(&c->err, CRM_RPC_INVALID, "from", "from must be a date such as 2025-01-01");
    } else {
        *from = *to - (ANALYTICS_DEFAULT_DAYS - 1);
    }
    if (*from > *to)
        return analytics_fail(&c->err, CRM_RPC_INVALID, "from", "from is after to");
    if (*to - *from + 1 > ANALYTICS_PERIOD_MAX)
        return analytics_fail(&c->err, CRM_RPC_INVALID, "to", "a period is at most %d days", ANALYTICS_PERIOD_MAX);
    if (*from - ANALYTICS_PERIOD_MAX < ANALYTICS_DAY_MIN || *to + ANALYTICS_PERIOD_MAX > ANALYTICS_DAY_MAX)
        return analytics_fail(&c->err, CRM_RPC_INVALID, "from", "the period is out of range");
    return 0;
}

static bool s_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* At most one of tier, need type and owner: writes the scope and its label. */
static int s_segment(s_call_t *c, const char *tier, Crm__V1__NeedType need, const char *owner,
                     char scope[ANALYTICS_SCOPE_MAX], char label[ANALYTICS_LABEL_MAX])
{
    int given = (tier[0] != 0) + (need != CRM__V1__NEED_TYPE__NEED_TYPE_UNSPECIFIED) + (owner[0] != 0);
    if (given > 1)
        return analytics_fail(&c->err, CRM_RPC_INVALID, owner[0] ? "owner" : "needType",
                              "give at most one segment: tier, needType or owner");
    if (tier[0]) {
        if (strlen(tier) > ANALYTICS_TIER_MAX || !s_printable(tier))
            return analytics_fail(&c->err, CRM_RPC_INVALID, "tier", "not a tier id");
        snprintf(scope, ANALYTICS_SCOPE_MAX, "t%s", tier);
        snprintf(label, ANALYTICS_LABEL_MAX, "tier:%s", tier);
    } else if (need != CRM__V1__NEED_TYPE__NEED_TYPE_UNSPECIFIED) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&crm__v1__need_type__descriptor, need);
        if (!v)
            return analytics_fail(&c->err, CRM_RPC_INVALID, "needType", "not a need type");
        char name[CRM_CODEC_NAME_MAX];
        crm_codec_enum_short_name(&crm__v1__need_type__descriptor, v, name, sizeof name);
        snprintf(scope, ANALYTICS_SCOPE_MAX, "n%d", (int) need);
        snprintf(label, ANALYTICS_LABEL_MAX, "needType:%s", name);
    } else if (owner[0]) {
        if (strlen(owner) > ANALYTICS_OWNER_MAX || !s_printable(owner))
            return analytics_fail(&c->err, CRM_RPC_INVALID, "owner", "not an owner");
        snprintf(scope, ANALYTICS_SCOPE_MAX, "o%s", owner);
        snprintf(label, ANALYTICS_LABEL_MAX, "owner:%s", owner);
    } else {
        snprintf(scope, ANALYTICS_SCOPE_MAX, "a");
        snprintf(label, ANALYTICS_LABEL_MAX, "all");
    }
    return 0;
}

/* --- Figures */

static int s_get_summary(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__SummaryRequest *req = (const void *) c->req;
    int64_t from, to;
    char scope[ANALYTICS_SCOPE_MAX], label[ANALYTICS_LABEL_MAX];
    int rc = s_period(c, req->from, req->to, &from, &to);
    if (rc == 0)
        rc = s_segment(c, req->tier, req->need_type, req->owner, scope, label);
    if (rc)
        return rc;
    analytics_summary_t *s = malloc(sizeof *s);
    if (!s)
        return CRM_ENOMEM;
    rc = analytics_summary(c->an, txn, scope, label, from, to, s);
    if (rc == 0) {
        Crm__V1__SummaryReply reply = CRM__V1__SUMMARY_REPLY__INIT;
        reply.summary = &s->msg;
        rc = s_reply(c, &reply.base);
    }
    free(s);
    return rc;
}

static int s_get_series(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__SeriesRequest *req = (const void *) c->req;
    int64_t from, to;
    char scope[ANALYTICS_SCOPE_MAX], label[ANALYTICS_LABEL_MAX];
    int rc = s_period(c, req->from, req->to, &from, &to);
    if (rc == 0)
        rc = s_segment(c, req->tier, req->need_type, req->owner, scope, label);
    if (rc)
        return rc;
    Crm__V1__Granularity g = req->granularity;
    if (g != CRM__V1__GRANULARITY__GRANULARITY_WEEK && g != CRM__V1__GRANULARITY__GRANULARITY_MONTH)
        g = CRM__V1__GRANULARITY__GRANULARITY_DAY;
    if (!req->figure[0])
        return analytics_fail(&c->err, CRM_RPC_INVALID, "figure", "figure is required, such as nps or activeEnd");
    analytics_series_t series;
    rc = analytics_series(c->an, txn, scope, req->figure, g, from, to, &series);
    if (rc == CRM_EINVALID)
        return analytics_fail(&c->err, CRM_RPC_INVALID, "figure", "no figure %s: name a number of the summary",
                              req->figure);
    if (rc == CRM_ELIMIT)
        return analytics_fail(&c->err, CRM_RPC_INVALID, "granularity", "more than %d points: take a coarser granularity",
                              ANALYTICS_SERIES_MAX);
    if (rc)
        return rc;
    Crm__V1__SeriesReply reply = CRM__V1__SERIES_REPLY__INIT;
    reply.figure = req->figure;
    reply.granularity = g;
    reply.segment = label;
    reply.n_points = series.count;
    reply.points = series.point_ptrs;
    rc = s_reply(c, &reply.base);
    analytics_series_clear(&series);
    return rc;
}

static int s_get_cohorts(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__CohortRequest *req = (const void *) c->req;
    int64_t from, to;
    char scope[ANALYTICS_SCOPE_MAX], label[ANALYTICS_LABEL_MAX];
    int rc = s_period(c, req->from, req->to, &from, &to);
    if (rc == 0)
        rc = s_segment(c, req->tier, req->need_type, req->owner, scope, label);
    if (rc)
        return rc;
    analytics_cohorts_t cohorts;
    rc = analytics_cohorts(c->an, txn, scope, from, to, &cohorts);
    if (rc)
        return rc;
    Crm__V1__CohortReply reply = CRM__V1__COHORT_REPLY__INIT;
    reply.segment = label;
    reply.n_rows = cohorts.count;
    reply.rows = cohorts.row_ptrs;
    rc = s_reply(c, &reply.base);
    analytics_cohorts_clear(&cohorts);
    return rc;
}

/* --- Risk */

static void s_reasons_copy(const Crm__V1__CustomerState *st, Crm__V1__RiskReason ***out, size_t *n)
{
    *out = st->reasons;
    *n = st->n_reasons;
}

static int s_list_at_risk(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__ListAtRiskRequest *req = (const void *) c->req;
    if (req->min_score > S_SCORE_MAX)
        return analytics_fail(&c->err, CRM_RPC_INVALID, "minScore", "minScore is at most %d", S_SCORE_MAX);
    uint32_t min_score = req->min_score ? req->min_score : c->an->settings.risk_threshold;
    uint32_t page = req->page_size ? req->page_size : ANALYTICS_PAGE_SIZE_DEFAULT;
    if (page > ANALYTICS_PAGE_SIZE_MAX)
        page = ANALYTICS_PAGE_SIZE_MAX;
    uint8_t start[S_RISK_KEY_LEN];
    size_t start_len = 0;
    if (req->page_token[0]) {
        unsigned byte = 0;
        if (strlen(req->page_token) != S_TOKEN_LEN || sscanf(req->page_token, "%2x", &byte) != 1
            || !crm_id_valid(req->page_token + 2))
            return analytics_fail(&c->err, CRM_RPC_INVALID, "pageToken", "not a page token of this list");
        start[0] = (uint8_t) byte;
        memcpy(start + 1, req->page_token + 2, CRM_ID_LEN);
        start_len = S_RISK_KEY_LEN;
    }
    Crm__V1__CustomerRisk *items = calloc(page, sizeof *items);
    Crm__V1__CustomerRisk **ptrs = calloc(page, sizeof *ptrs);
    Crm__V1__CustomerState **states = calloc(page, sizeof *states);
    Crm__V1__Timestamp *times = calloc(page, sizeof *times);
    char (*ids)[CRM_ID_SIZE] = calloc(page, sizeof *ids);
    char token[S_TOKEN_LEN + 1] = "";
    size_t n = 0;
    crm_cursor_t *cur = NULL;
    int rc = items && ptrs && states && times && ids ? crm_cursor_open(txn, c->an->db.risk, &cur) : CRM_ENOMEM;
    crm_val_t k;
    if (rc == 0)
        rc = start_len ? crm_cursor_seek(cur, start, start_len, &k, NULL) : crm_cursor_first(cur, &k, NULL);
    if (rc == 0 && start_len && k.size == start_len && memcmp(k.data, start, start_len) == 0)
        rc = crm_cursor_next(cur, &k, NULL);   /* the token names the last item of the previous page */
    while (rc == 0) {
        if (k.size != S_RISK_KEY_LEN) {
            rc = CRM_ESTORE;
            break;
        }
        const uint8_t *kk = k.data;
        uint32_t score = 255u - kk[0];
        if (score < min_score)
            break;
        if (n == page) {
            /* More follow: the token names the last customer of this page. */
            snprintf(token, sizeof token, "%02x%s", 255u - states[n - 1]->score, ids[n - 1]);
            break;
        }
        memcpy(ids[n], kk + 1, CRM_ID_LEN);
        ids[n][CRM_ID_LEN] = '\0';
        rc = analytics_state_get(c->an, txn, ids[n], &states[n]);
        if (rc)
            break;
        Crm__V1__CustomerRisk *it = &items[n];
        crm__v1__customer_risk__init(it);
        it->customer_id = ids[n];
        it->score = states[n]->score;
        s_reasons_copy(states[n], &it->reasons, &it->n_reasons);
        it->evaluated_at = analytics_ts_set(&times[n], states[n]->evaluated_us);
        it->stage = states[n]->stage;
        it->risk_raised = states[n]->risk_raised;
        ptrs[n] = it;
        n++;
        rc = crm_cursor_next(cur, &k, NULL);
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc == 0) {
        Crm__V1__ListAtRiskReply reply = CRM__V1__LIST_AT_RISK_REPLY__INIT;
        reply.customers = n ? ptrs : NULL;
        reply.n_customers = n;
        reply.next_page_token = token;
        reply.threshold = c->an->settings.risk_threshold;
        rc = s_reply(c, &reply.base);
    }
    for (size_t i = 0; states && i < n; i++)
        crm_codec_message_free((ProtobufCMessage **) &states[i]);
    free(items);
    free(ptrs);
    free(states);
    free(times);
    free(ids);
    return rc;
}

static int s_get_customer_scores(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__CustomerScoresRequest *req = (const void *) c->req;
    if (!crm_id_valid(req->customer_id))
        return analytics_fail(&c->err, CRM_RPC_INVALID, "customerId", "a customer id (26 characters) is required");
    int64_t as_of = req->as_of ? analytics_ts_us(req->as_of) : analytics_now(c->an);
    Crm__V1__AnalyticsCustomer *cust = NULL;
    Crm__V1__CustomerState *st = NULL;
    int rc = analytics_customer_get(c->an, txn, req->customer_id, &cust);
    if (rc)
        return rc;
    if (!cust || cust->deleted || cust->merged_into[0]) {
        crm_codec_message_free((ProtobufCMessage **) &cust);
        return analytics_fail(&c->err, CRM_RPC_NOT_FOUND, "customerId", "analytics knows no such customer");
    }
    rc = analytics_state_get(c->an, txn, req->customer_id, &st);
    Crm__V1__AnalyticsMeta *meta = NULL;
    if (rc == 0)
        rc = analytics_meta_get(c->an, txn, &meta);
    if (rc == 0) {
        analytics_risk_t risk;
        analytics_risk_score(c->an, cust, as_of, &risk);
        Crm__V1__RiskReason reasons[ANALYTICS_RISK_REASONS_MAX];
        Crm__V1__RiskReason *reason_ptrs[ANALYTICS_RISK_REASONS_MAX];
        for (size_t i = 0; i < risk.count; i++) {
            crm__v1__risk_reason__init(&reasons[i]);
            reasons[i].code = risk.reasons[i].code;
            reasons[i].detail = risk.reasons[i].detail;
            reasons[i].weight = risk.reasons[i].weight;
            reason_ptrs[i] = &reasons[i];
        }
        Crm__V1__Timestamp t_as_of, t_first, t_last, t_stage, t_rfm;
        Crm__V1__CustomerScores s = CRM__V1__CUSTOMER_SCORES__INIT;
        s.customer_id = cust->id;
        s.as_of = analytics_ts_set(&t_as_of, as_of);
        s.purchases = risk.purchases;
        s.first_purchase_at = risk.first_purchase_us ? analytics_ts_set(&t_first, risk.first_purchase_us) : NULL;
        s.last_purchase_at = risk.last_purchase_us ? analytics_ts_set(&t_last, risk.last_purchase_us) : NULL;
        s.net_spend_minor = risk.net_spend_minor;
        s.active = risk.active;
        s.churn_score = risk.score;
        s.n_reasons = risk.count;
        s.reasons = risk.count ? reason_ptrs : NULL;
        s.threshold = c->an->settings.risk_threshold;
        s.risk_raised = st->risk_raised;
        s.stage = st->stage;
        s.stage_since = st->stage_since_us ? analytics_ts_set(&t_stage, st->stage_since_us) : NULL;
        s.value_tier = st->value_tier;
        s.recency = st->recency;
        s.frequency = st->frequency;
        s.monetary = st->monetary;
        s.rfm_as_of = meta->rfm_as_of_us ? analytics_ts_set(&t_rfm, meta->rfm_as_of_us) : NULL;
        s.tier = (char *) analytics_customer_tier(c->an, cust);
        s.need_type = cust->need_type;
        s.owner = cust->owner;
        s.answers = (uint32_t) cust->n_answers;
        s.complaints = (uint32_t) cust->n_complaints;
        Crm__V1__CustomerScoresReply reply = CRM__V1__CUSTOMER_SCORES_REPLY__INIT;
        reply.scores = &s;
        rc = s_reply(c, &reply.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &meta);
    crm_codec_message_free((ProtobufCMessage **) &st);
    crm_codec_message_free((ProtobufCMessage **) &cust);
    return rc;
}

/* --- RFM */

static int s_rfm_reply(crm_txn_t *txn, s_call_t *c)
{
    Crm__V1__AnalyticsMeta *meta = NULL;
    int rc = analytics_meta_get(c->an, txn, &meta);
    if (rc)
        return rc;
    int64_t r[ANALYTICS_RFM_LEVELS] = { 0 }, f[ANALYTICS_RFM_LEVELS] = { 0 }, m[ANALYTICS_RFM_LEVELS] = { 0 };
    for (size_t i = 0; i < meta->n_rfm_cells; i++) {
        const Crm__V1__RfmCell *cell = meta->rfm_cells[i];
        if (cell->recency < 1 || cell->recency > 5 || cell->frequency < 1 || cell->frequency > 5
            || cell->monetary < 1 || cell->monetary > 5)
            continue;
        r[cell->recency - 1] += cell->customers;
        f[cell->frequency - 1] += cell->customers;
        m[cell->monetary - 1] += cell->customers;
    }
    Crm__V1__Timestamp as_of;
    Crm__V1__RfmDistribution d = CRM__V1__RFM_DISTRIBUTION__INIT;
    d.as_of = meta->rfm_as_of_us ? analytics_ts_set(&as_of, meta->rfm_as_of_us) : NULL;
    d.scored = meta->rfm_base;
    d.n_cells = meta->n_rfm_cells;
    d.cells = meta->rfm_cells;
    d.n_recency = d.n_frequency = d.n_monetary = ANALYTICS_RFM_LEVELS;
    d.recency = r;
    d.frequency = f;
    d.monetary = m;
    d.value_high = meta->value_high;
    d.value_mid = meta->value_mid;
    d.value_low = meta->value_low;
    rc = s_reply(c, &d.base);
    crm_codec_message_free((ProtobufCMessage **) &meta);
    return rc;
}

static int s_get_rfm(crm_txn_t *txn, s_call_t *c)
{
    return s_rfm_reply(txn, c);
}

static int s_recompute_rfm(crm_txn_t *txn, s_call_t *c)
{
    const Crm__V1__RecomputeRfmRequest *req = (const void *) c->req;
    int64_t as_of = req->as_of ? analytics_ts_us(req->as_of) : analytics_now(c->an);
    int rc = analytics_rfm_run(c->an, txn, as_of);
    return rc ? rc : s_rfm_reply(txn, c);
}

/* --- Rebuild and status */

static int s_get_status(crm_txn_t *txn, s_call_t *c)
{
    Crm__V1__AnalyticsMeta *meta = NULL;
    int rc = analytics_meta_get(c->an, txn, &meta);
    if (rc)
        return rc;
    static const char *const names[ANALYTICS_PUBLISHER_COUNT] = ANALYTICS_PUBLISHERS;
    Crm__V1__PublisherCursor cursors[ANALYTICS_PUBLISHER_COUNT];
    Crm__V1__PublisherCursor *cursor_ptrs[ANALYTICS_PUBLISHER_COUNT];
    for (size_t i = 0; rc == 0 && i < ANALYTICS_PUBLISHER_COUNT; i++) {
        crm__v1__publisher_cursor__init(&cursors[i]);
        cursors[i].publisher = (char *) names[i];
        crm_val_t v;
        rc = crm_store_get(txn, c->an->cursors, names[i], strlen(names[i]), &v);
        if (rc == 0 && v.size == ANALYTICS_SEQ_SIZE)
            cursors[i].sequence = crm_bus_seq_decode(v.data);
        if (rc == CRM_ENOTFOUND)
            rc = 0;
        cursor_ptrs[i] = &cursors[i];
    }
    uint64_t customers = 0;
    if (rc == 0)
        rc = crm_store_count(txn, c->an->db.customers, &customers);
    if (rc == 0) {
        Crm__V1__Timestamp rebuilt, rfm;
        Crm__V1__StatusReply reply = CRM__V1__STATUS_REPLY__INIT;
        reply.generation = meta->generation;
        reply.rebuild_pending = meta->rebuild_pending;
        reply.rebuilt_at = meta->rebuilt_us ? analytics_ts_set(&rebuilt, meta->rebuilt_us) : NULL;
        reply.n_cursors = ANALYTICS_PUBLISHER_COUNT;
        reply.cursors = cursor_ptrs;
        reply.customers = (int64_t) customers;
        reply.rfm_as_of = meta->rfm_as_of_us ? analytics_ts_set(&rfm, meta->rfm_as_of_us) : NULL;
        rc = s_reply(c, &reply.base);
    }
    crm_codec_message_free((ProtobufCMessage **) &meta);
    return rc;
}

/* --- The method table */

typedef struct {
    const char *name;                              /* after "analytics." */
    const ProtobufCMessageDescriptor *request;
    s_method_fn fn;
    bool write;
    bool admin;
} s_method_t;

static const s_method_t s_methods[] = {
    { "GetSummary", &crm__v1__summary_request__descriptor, s_get_summary, false, false },
    { "GetSeries", &crm__v1__series_request__descriptor, s_get_series, false, false },
    { "GetCohorts", &crm__v1__cohort_request__descriptor, s_get_cohorts, false, false },
    { "ListAtRisk", &crm__v1__list_at_risk_request__descriptor, s_list_at_risk, false, false },
    { "GetCustomerScores", &crm__v1__customer_scores_request__descriptor, s_get_customer_scores, false, false },
    { "GetRfmDistribution", &crm__v1__rfm_request__descriptor, s_get_rfm, false, false },
    { "RecomputeRfm", &crm__v1__recompute_rfm_request__descriptor, s_recompute_rfm, true, true },
    { "GetStatus", &crm__v1__status_request__descriptor, s_get_status, false, false },
    { "Rebuild", &crm__v1__rebuild_request__descriptor, NULL, true, true },
};

static int s_write_body(crm_txn_t *txn, void *arg)
{
    s_call_t *c = arg;
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    memset(&c->err, 0, sizeof c->err);
    return c->fn(txn, c);
}

static void s_answer(analytics_answer_t *ans, crm_rpc_status_t status, const char *field, const char *error)
{
    ans->status = status;
    snprintf(ans->field, sizeof ans->field, "%s", field ? field : "");
    snprintf(ans->error, sizeof ans->error, "%s", error ? error : "");
}

/* Rebuild: recorded now, done by the restart the caller makes once the answer is sent. */
static int s_rebuild(s_call_t *c, analytics_answer_t *ans)
{
    uint64_t generation = 0;
    int rc = analytics_rebuild_request(c->an, &generation);
    if (rc)
        return rc;
    Crm__V1__RebuildReply reply = CRM__V1__REBUILD_REPLY__INIT;
    reply.generation = generation;
    rc = s_reply(c, &reply.base);
    if (rc == 0)
        ans->restart = true;
    return rc;
}

void analytics_handle(analytics_t *an, const char *method, const analytics_caller_t *caller, const void *body,
                      size_t body_len, analytics_answer_t *ans)
{
    memset(ans, 0, sizeof *ans);
    const s_method_t *m = NULL;
    size_t prefix = strlen(ANALYTICS_METHOD_PREFIX);
    if (strncmp(method, ANALYTICS_METHOD_PREFIX, prefix) == 0)
        for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
            if (strcmp(method + prefix, s_methods[i].name) == 0)
                m = &s_methods[i];
    if (!m) {
        s_answer(ans, CRM_RPC_UNKNOWN_METHOD, NULL, "unknown method");
        return;
    }
    const analytics_caller_t nobody = { "", "" };
    if (!caller)
        caller = &nobody;
    if (m->admin && (!caller->role || strcmp(caller->role, ANALYTICS_ADMIN_ROLE) != 0)) {
        s_answer(ans, CRM_RPC_FORBIDDEN, NULL, "this method needs the admin role");
        return;
    }
    ProtobufCMessage *req = NULL;
    crm_codec_error_t cerr;
    int rc = crm_codec_pb_decode(m->request, body_len ? body : "", body_len, &req, &cerr);
    if (rc) {
        s_answer(ans, rc == CRM_ETOOBIG ? CRM_RPC_TOO_LARGE : CRM_RPC_INVALID, cerr.path, cerr.message);
        return;
    }
    s_call_t c = { .an = an, .caller = caller, .req = req, .fn = m->fn };
    if (!m->fn) {
        rc = s_rebuild(&c, ans);
    } else if (m->write) {
        rc = analytics_write(an, s_write_body, &c);
    } else {
        crm_txn_t *txn = NULL;
        rc = crm_store_read_begin(an->store, &txn);
        if (rc == 0)
            rc = m->fn(txn, &c);
        crm_store_txn_end(&txn);
    }
    if (rc == 0) {
        ans->status = CRM_RPC_OK;
        ans->body = c.body;
        ans->body_len = c.body_len;
        c.body = NULL;
    } else if (c.err.status != CRM_RPC_OK) {
        s_answer(ans, c.err.status, c.err.field, c.err.message);
    } else {
        s_answer(ans, CRM_RPC_INTERNAL, NULL, crm_strerror(rc));
    }
    free(c.body);
    crm_codec_message_free(&req);
}

/* --- Events: common */

/* The time an occurrence is counted at: when the payload says it happened, else the envelope's. */
static int64_t s_when(const Crm__V1__Timestamp *when, const Crm__V1__Event *ev)
{
    int64_t at = analytics_ts_us(when);
    return at ? at : analytics_ts_us(ev->time);
}

/* True for a time analytics can count (0 is "unset" where a time is optional). */
static bool s_time_ok(int64_t us)
{
    return us >= ANALYTICS_TIME_MIN_US && us <= ANALYTICS_TIME_MAX_US;
}

static bool s_time_ok_or_unset(int64_t us)
{
    return us == 0 || s_time_ok(us);
}

/* After a fold: the customer's risk is evaluated once its events settle. */
static int s_after(analytics_t *an, crm_txn_t *txn, const char *resolved, unsigned families)
{
    if (!resolved[0] || families == 0)
        return 0;
    return analytics_risk_touch(an, txn, resolved);
}

typedef int (*s_event_fn)(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg);

typedef struct {
    const char *type;
    const ProtobufCMessageDescriptor *data;
    s_event_fn fn;
} s_event_t;

static int s_dispatch(analytics_t *an, crm_txn_t *txn, const crm_bus_event_t *event, const s_event_t *table,
                      size_t count)
{
    size_t i = 0;
    for (; i < count; i++)
        if (event->topic_len == strlen(table[i].type) && memcmp(event->topic, table[i].type, event->topic_len) == 0)
            break;
    if (i == count)
        return 0;   /* an event analytics has no use for */
    Crm__V1__Event *ev = NULL;
    ProtobufCMessage *msg = NULL;
    int rc = crm_event_decode(event->payload, event->payload_len, &ev);
    if (rc == 0)
        rc = crm_event_data(ev, table[i].data, &msg);
    if (rc)
        rc = CRM_EINVALID;
    else
        rc = table[i].fn(an, txn, ev, msg);
    crm_codec_message_free(&msg);
    crm_event_destroy(&ev);
    /* The subscriber commits this transaction right after; the publisher (the same loop) reads the
     * notification only then, and finds nothing new if the transaction was aborted. */
    if (rc == 0)
        crm_outbox_notify(an->outbox);
    return rc;
}

/* --- Contacts events */

static int s_mutate_profile(const analytics_t *an, Crm__V1__AnalyticsCustomer *c, void *arg, unsigned *families)
{
    return analytics_fact_profile(c, arg, families);
}

static int s_on_customer(analytics_t *an, crm_txn_t *txn, const Crm__V1__Customer *cust)
{
    if (!cust || !s_time_ok_or_unset(analytics_ts_us(cust->created_at)))
        return CRM_EINVALID;
    char resolved[CRM_ID_SIZE];
    unsigned families = 0;
    return analytics_fold(an, txn, cust->id, s_mutate_profile, (void *) cust, resolved, &families);
}

static int s_on_customer_created(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    return s_on_customer(an, txn, ((const Crm__V1__CustomerCreated *) msg)->customer);
}

static int s_on_customer_updated(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    return s_on_customer(an, txn, ((const Crm__V1__CustomerUpdated *) msg)->customer);
}

static int s_on_customer_merged(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    const Crm__V1__CustomerMerged *m = (const void *) msg;
    return analytics_fold_merge(an, txn, m->survivor_id, m->merged_id, m->survivor);
}

static int s_on_customer_deleted(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    return analytics_fold_delete(an, txn, ((const Crm__V1__CustomerDeleted *) msg)->customer_id);
}

typedef struct {
    int64_t time_us;
} s_contact_t;

static int s_mutate_contact(const analytics_t *an, Crm__V1__AnalyticsCustomer *c, void *arg, unsigned *families)
{
    return analytics_fact_contact(c, ((const s_contact_t *) arg)->time_us, families);
}

static int s_on_interaction(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    const Crm__V1__Interaction *i = ((const Crm__V1__InteractionLogged *) msg)->interaction;
    if (!i)
        return CRM_EINVALID;
    s_contact_t contact = { s_when(i->occurred_at, ev) };
    if (!s_time_ok(contact.time_us))
        return CRM_EINVALID;
    char resolved[CRM_ID_SIZE];
    unsigned families = 0;
    int rc = analytics_fold(an, txn, i->customer_id, s_mutate_contact, &contact, resolved, &families);
    return rc ? rc : s_after(an, txn, resolved, families);
}

typedef struct {
    const Crm__V1__Purchase *p;
    int64_t time_us;
    const Crm__V1__RefundFact *refund;
} s_purchase_t;

static int s_mutate_purchase(const analytics_t *an, Crm__V1__AnalyticsCustomer *c, void *arg, unsigned *families)
{
    const s_purchase_t *a = arg;
    return analytics_fact_purchase(c, a->p->id, a->time_us, a->p->amount_minor, a->p->currency,
                                   a->p->refunded_minor, a->refund, families);
}

static int s_on_purchase_recorded(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev,
                                  const ProtobufCMessage *msg)
{
    const Crm__V1__Purchase *p = ((const Crm__V1__PurchaseRecorded *) msg)->purchase;
    if (!p)
        return CRM_EINVALID;
    s_purchase_t a = { .p = p, .time_us = s_when(p->purchased_at, ev) };
    if (!s_time_ok(a.time_us))
        return CRM_EINVALID;
    char resolved[CRM_ID_SIZE];
    unsigned families = 0;
    int rc = analytics_fold(an, txn, p->customer_id, s_mutate_purchase, &a, resolved, &families);
    bool net = p->amount_minor == 0 || p->refunded_minor < p->amount_minor;
    if (rc == 0 && resolved[0] && families && net)
        rc = analytics_risk_purchase(an, txn, resolved, a.time_us);
    return rc ? rc : s_after(an, txn, resolved, families);
}

static int s_on_purchase_refunded(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev,
                                  const ProtobufCMessage *msg)
{
    const Crm__V1__PurchaseRefunded *m = (const void *) msg;
    if (!m->purchase)
        return CRM_EINVALID;
    Crm__V1__RefundFact refund = CRM__V1__REFUND_FACT__INIT;
    if (m->refund) {
        refund.id = m->refund->id;
        refund.amount_minor = m->refund->amount_minor;
        refund.time_us = s_when(m->refund->refunded_at, ev);
    }
    s_purchase_t a = { .p = m->purchase, .time_us = s_when(m->purchase->purchased_at, ev), .refund = &refund };
    if (!s_time_ok(a.time_us) || !s_time_ok_or_unset(refund.time_us))
        return CRM_EINVALID;
    char resolved[CRM_ID_SIZE];
    unsigned families = 0;
    int rc = analytics_fold(an, txn, m->purchase->customer_id, s_mutate_purchase, &a, resolved, &families);
    return rc ? rc : s_after(an, txn, resolved, families);
}

static const s_event_t s_contacts_events[] = {
    { "crm.contacts.customer.created.v1", &crm__v1__customer_created__descriptor, s_on_customer_created },
    { "crm.contacts.customer.updated.v1", &crm__v1__customer_updated__descriptor, s_on_customer_updated },
    { "crm.contacts.customer.merged.v1", &crm__v1__customer_merged__descriptor, s_on_customer_merged },
    { "crm.contacts.customer.deleted.v1", &crm__v1__customer_deleted__descriptor, s_on_customer_deleted },
    { "crm.contacts.interaction.logged.v1", &crm__v1__interaction_logged__descriptor, s_on_interaction },
    { "crm.contacts.purchase.recorded.v1", &crm__v1__purchase_recorded__descriptor, s_on_purchase_recorded },
    { "crm.contacts.purchase.refunded.v1", &crm__v1__purchase_refunded__descriptor, s_on_purchase_refunded },
};

int analytics_on_contacts_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    return s_dispatch(arg, txn, event, s_contacts_events, sizeof s_contacts_events / sizeof s_contacts_events[0]);
}

/* --- Loyalty events */

typedef struct {
    int64_t day;
    int64_t time_us;
    int64_t earned, redeemed, expired, other;
    bool redeem;
} s_points_t;

static int s_mutate_points(const analytics_t *an, Crm__V1__AnalyticsCustomer *c, void *arg, unsigned *families)
{
    const s_points_t *p = arg;
    return analytics_fact_points(c, p->day, p->time_us, p->earned, p->redeemed, p->expired, p->other, p->redeem,
                                 families);
}

static int s_on_points(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    const Crm__V1__LedgerEntry *e = ((const Crm__V1__PointsChanged *) msg)->entry;
    if (!e)
        return CRM_EINVALID;
    s_points_t p = { .time_us = s_when(e->time, ev) };
    if (!s_time_ok(p.time_us))
        return CRM_EINVALID;
    p.day = analytics_day(an, p.time_us);
    int64_t change = e->points + e->pending_points;
    switch (e->kind) {
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN:
        p.earned = change;
        break;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_RELEASE:
        p.other = change;   /* pending became spendable: 0 */
        break;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM:
        p.redeemed = -change;
        p.redeem = true;
        break;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM_CANCEL:
        p.redeemed = -change;
        break;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_EXPIRE:
        p.expired = -change;
        break;
    default:
        p.other = change;
        break;
    }
    char resolved[CRM_ID_SIZE];
    unsigned families = 0;
    int rc = analytics_fold(an, txn, e->customer_id, s_mutate_points, &p, resolved, &families);
    return rc ? rc : s_after(an, txn, resolved, families);
}

typedef struct {
    int64_t time_us, expires_us, points;
} s_notice_t;

static int s_mutate_notice(const analytics_t *an, Crm__V1__AnalyticsCustomer *c, void *arg, unsigned *families)
{
    const s_notice_t *n = arg;
    return analytics_fact_notice(c, n->time_us, n->expires_us, n->points, families);
}

static int s_on_expiring(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    const Crm__V1__PointsExpiring *m = (const void *) msg;
    s_notice_t n = { .time_us = analytics_ts_us(ev->time), .expires_us = analytics_ts_us(m->expires_at),
                     .points = m->points };
    if (!s_time_ok(n.time_us) || !s_time_ok_or_unset(n.expires_us))
        return CRM_EINVALID;
    char resolved[CRM_ID_SIZE];
    unsigned families = 0;
    int rc = analytics_fold(an, txn, m->customer_id, s_mutate_notice, &n, resolved, &families);
    return rc ? rc : s_after(an, txn, resolved, families);
}

typedef struct {
    int64_t time_us;
    const char *from, *to;
    uint64_t order;
} s_tier_t;

static int s_mutate_tier(const analytics_t *an, Crm__V1__AnalyticsCustomer *c, void *arg, unsigned *families)
{
    const s_tier_t *t = arg;
    return analytics_fact_tier(c, t->time_us, t->from, t->to, t->order, families);
}

static int s_on_tier_changed(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    const Crm__V1__TierChanged *m = (const void *) msg;
    s_tier_t t = { .time_us = analytics_ts_us(ev->time), .from = m->from_tier, .to = m->to_tier,
                   .order = ev->sequence };
    if (!s_time_ok(t.time_us))
        return CRM_EINVALID;
    char resolved[CRM_ID_SIZE];
    unsigned families = 0;
    return analytics_fold(an, txn, m->customer_id, s_mutate_tier, &t, resolved, &families);
}

static const s_event_t s_loyalty_events[] = {
    { "crm.loyalty.points.earned.v1", &crm__v1__points_changed__descriptor, s_on_points },
    { "crm.loyalty.points.released.v1", &crm__v1__points_changed__descriptor, s_on_points },
    { "crm.loyalty.points.redeemed.v1", &crm__v1__points_changed__descriptor, s_on_points },
    { "crm.loyalty.points.restored.v1", &crm__v1__points_changed__descriptor, s_on_points },
    { "crm.loyalty.points.expired.v1", &crm__v1__points_changed__descriptor, s_on_points },
    { "crm.loyalty.points.reversed.v1", &crm__v1__points_changed__descriptor, s_on_points },
    { "crm.loyalty.points.adjusted.v1", &crm__v1__points_changed__descriptor, s_on_points },
    { "crm.loyalty.points.merged.v1", &crm__v1__points_changed__descriptor, s_on_points },
    { "crm.loyalty.points.closed.v1", &crm__v1__points_changed__descriptor, s_on_points },
    { "crm.loyalty.points.expiring.v1", &crm__v1__points_expiring__descriptor, s_on_expiring },
    { "crm.loyalty.tier.changed.v1", &crm__v1__tier_changed__descriptor, s_on_tier_changed },
};

int analytics_on_loyalty_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    return s_dispatch(arg, txn, event, s_loyalty_events, sizeof s_loyalty_events / sizeof s_loyalty_events[0]);
}

/* --- Feedback events */

static int s_mutate_answer(const analytics_t *an, Crm__V1__AnalyticsCustomer *c, void *arg, unsigned *families)
{
    return analytics_fact_answer(c, arg, families);
}

static int s_on_answer(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    const Crm__V1__Answer *a = ((const Crm__V1__AnswerReceived *) msg)->answer;
    if (!a)
        return CRM_EINVALID;
    Crm__V1__AnswerFact fact = CRM__V1__ANSWER_FACT__INIT;
    fact.id = a->id;
    fact.time_us = s_when(a->answered_at, ev);
    fact.kind = (uint32_t) a->survey_kind;
    fact.score = a->score;
    fact.answer_class = (uint32_t) a->answer_class;
    if (!s_time_ok(fact.time_us))
        return CRM_EINVALID;
    char resolved[CRM_ID_SIZE];
    unsigned families = 0;
    int rc = analytics_fold(an, txn, a->customer_id, s_mutate_answer, &fact, resolved, &families);
    return rc ? rc : s_after(an, txn, resolved, families);
}

static int s_mutate_complaint(const analytics_t *an, Crm__V1__AnalyticsCustomer *c, void *arg, unsigned *families)
{
    return analytics_fact_complaint(c, arg, families);
}

static int s_complaint(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const Crm__V1__Complaint *k)
{
    if (!k)
        return CRM_EINVALID;
    Crm__V1__ComplaintFact fact = CRM__V1__COMPLAINT_FACT__INIT;
    fact.id = k->id;
    fact.created_us = s_when(k->created_at, ev);
    fact.status = (uint32_t) k->status;
    fact.first_response_us = analytics_ts_us(k->first_response_at);
    fact.first_response_seconds = k->first_response_seconds;
    fact.resolved_us = analytics_ts_us(k->resolved_at);
    fact.resolution_seconds = k->resolution_seconds;
    fact.first_contact = k->resolved_at_first_contact;
    fact.breached = k->first_response_breached || k->resolution_breached;
    fact.reopen_count = k->reopen_count;
    fact.version = k->version;
    if (!s_time_ok(fact.created_us) || !s_time_ok_or_unset(fact.first_response_us)
        || !s_time_ok_or_unset(fact.resolved_us))
        return CRM_EINVALID;
    char resolved[CRM_ID_SIZE];
    unsigned families = 0;
    int rc = analytics_fold(an, txn, k->customer_id, s_mutate_complaint, &fact, resolved, &families);
    return rc ? rc : s_after(an, txn, resolved, families);
}

static int s_on_complaint(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    return s_complaint(an, txn, ev, ((const Crm__V1__ComplaintChanged *) msg)->complaint);
}

static int s_on_breach(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    return s_complaint(an, txn, ev, ((const Crm__V1__SlaBreached *) msg)->complaint);
}

static int s_on_escalated(analytics_t *an, crm_txn_t *txn, const Crm__V1__Event *ev, const ProtobufCMessage *msg)
{
    return s_complaint(an, txn, ev, ((const Crm__V1__ComplaintEscalated *) msg)->complaint);
}

static const s_event_t s_feedback_events[] = {
    { "crm.feedback.answer.received.v1", &crm__v1__answer_received__descriptor, s_on_answer },
    { "crm.feedback.complaint.opened.v1", &crm__v1__complaint_changed__descriptor, s_on_complaint },
    { "crm.feedback.complaint.assigned.v1", &crm__v1__complaint_changed__descriptor, s_on_complaint },
    { "crm.feedback.complaint.responded.v1", &crm__v1__complaint_changed__descriptor, s_on_complaint },
    { "crm.feedback.complaint.resolved.v1", &crm__v1__complaint_changed__descriptor, s_on_complaint },
    { "crm.feedback.complaint.reopened.v1", &crm__v1__complaint_changed__descriptor, s_on_complaint },
    { "crm.feedback.complaint.closed.v1", &crm__v1__complaint_changed__descriptor, s_on_complaint },
    { "crm.feedback.complaint.sla_breached.v1", &crm__v1__sla_breached__descriptor, s_on_breach },
    { "crm.feedback.complaint.escalated.v1", &crm__v1__complaint_escalated__descriptor, s_on_escalated },
};

int analytics_on_feedback_event(crm_txn_t *txn, const crm_bus_event_t *event, void *arg)
{
    return s_dispatch(arg, txn, event, s_feedback_events, sizeof s_feedback_events / sizeof s_feedback_events[0]);
}
