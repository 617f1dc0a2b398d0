/* analytics_fold.c: a customer's facts, their contribution to the figures, and the fold that writes the difference. */
#include "analytics_fold.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/v1/feedback.pb-c.h"
#include "crm_codec.h"
#include "crm_error.h"

#define S_ITEMS_FIRST_CAP 64
#define S_FACTS_ONLY      0x10u     /* the record changed, no figure did (an interaction time) */

/* --- Small helpers on generated records (parts allocated with malloc, freed by crm_codec) */

static int s_str_set(char **field, const char *value)
{
    char *copy = strdup(value ? value : "");
    if (!copy)
        return CRM_ENOMEM;
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = copy;
    return 0;
}

/* Appends a fresh message of type desc to the repeated field (*array, *count). */
static int s_append(void ***array, size_t *count, const ProtobufCMessageDescriptor *desc, void **out)
{
    void **grown = realloc(*array, (*count + 1) * sizeof *grown);
    if (!grown)
        return CRM_ENOMEM;
    *array = grown;
    ProtobufCMessage *msg = NULL;
    int rc = crm_codec_message_new(desc, &msg);
    if (rc)
        return rc;
    grown[(*count)++] = msg;
    *out = msg;
    return 0;
}

/* Moves the last of count elements left to its place in cmp order: facts are kept sorted, so that
 * the same facts make the same record whatever order they came in. */
static void s_settle(void **array, size_t count, int (*cmp)(const void *, const void *))
{
    for (size_t i = count - 1; i > 0 && cmp(&array[i - 1], &array[i]) > 0; i--) {
        void *tmp = array[i];
        array[i] = array[i - 1];
        array[i - 1] = tmp;
    }
}

static int s_time_id_cmp(int64_t ta, const char *ia, int64_t tb, const char *ib)
{
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return strcmp(ia, ib);
}

static int s_refund_order(const void *a, const void *b)
{
    const Crm__V1__RefundFact *x = *(const Crm__V1__RefundFact *const *) a, *y = *(const Crm__V1__RefundFact *const *) b;
    return s_time_id_cmp(x->time_us, x->id, y->time_us, y->id);
}

static int s_purchase_order(const void *a, const void *b)
{
    const Crm__V1__PurchaseFact *x = *(const Crm__V1__PurchaseFact *const *) a, *y = *(const Crm__V1__PurchaseFact *const *) b;
    return s_time_id_cmp(x->time_us, x->id, y->time_us, y->id);
}

static int s_answer_order(const void *a, const void *b)
{
    const Crm__V1__AnswerFact *x = *(const Crm__V1__AnswerFact *const *) a, *y = *(const Crm__V1__AnswerFact *const *) b;
    return s_time_id_cmp(x->time_us, x->id, y->time_us, y->id);
}

static int s_complaint_order(const void *a, const void *b)
{
    const Crm__V1__ComplaintFact *x = *(const Crm__V1__ComplaintFact *const *) a;
    const Crm__V1__ComplaintFact *y = *(const Crm__V1__ComplaintFact *const *) b;
    return strcmp(x->id, y->id);
}

static int s_loyalty_day_order(const void *a, const void *b)
{
    const Crm__V1__LoyaltyDayFact *x = *(const Crm__V1__LoyaltyDayFact *const *) a;
    const Crm__V1__LoyaltyDayFact *y = *(const Crm__V1__LoyaltyDayFact *const *) b;
    return x->day < y->day ? -1 : x->day > y->day;
}

static int s_tier_order(const void *a, const void *b)
{
    const Crm__V1__TierChangeFact *x = *(const Crm__V1__TierChangeFact *const *) a;
    const Crm__V1__TierChangeFact *y = *(const Crm__V1__TierChangeFact *const *) b;
    if (x->time_us != y->time_us)
        return x->time_us < y->time_us ? -1 : 1;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return strcmp(x->to_tier, y->to_tier);
}

/* --- Scopes */

const char *analytics_customer_tier(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c)
{
    if (!c->member_since_us)
        return "";
    const Crm__V1__TierChangeFact *last = NULL;
    for (size_t i = 0; i < c->n_tier_changes; i++) {
        const Crm__V1__TierChangeFact *t = c->tier_changes[i];
        if (!last || t->time_us > last->time_us || (t->time_us == last->time_us && t->order > last->order))
            last = t;
    }
    if (last && last->to_tier[0])
        return last->to_tier;
    return an->settings.entry_tier;
}

void analytics_scopes(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, analytics_scopes_t *scopes)
{
    memset(scopes, 0, sizeof *scopes);
    snprintf(scopes->text[scopes->count++], ANALYTICS_SCOPE_MAX, "a");
    const char *tier = analytics_customer_tier(an, c);
    if (tier[0])
        snprintf(scopes->text[scopes->count++], ANALYTICS_SCOPE_MAX, "t%.*s", ANALYTICS_TIER_MAX, tier);
    if (c->need_type != CRM__V1__NEED_TYPE__NEED_TYPE_UNSPECIFIED)
        snprintf(scopes->text[scopes->count++], ANALYTICS_SCOPE_MAX, "n%d", (int) c->need_type);
    if (c->owner[0])
        snprintf(scopes->text[scopes->count++], ANALYTICS_SCOPE_MAX, "o%.*s", ANALYTICS_OWNER_MAX, c->owner);
}

/* --- Items */

void analytics_items_clear(analytics_items_t *items)
{
    if (!items)
        return;
    free(items->v);
    memset(items, 0, sizeof *items);
}

static int s_item(analytics_items_t *items, uint8_t kind, uint8_t field, const char *scope, int64_t a, int64_t b,
                  const char *name, int64_t value)
{
    if (items->count == items->cap) {
        size_t cap = items->cap ? items->cap * 2 : S_ITEMS_FIRST_CAP;
        analytics_item_t *grown = realloc(items->v, cap * sizeof *grown);
        if (!grown)
            return CRM_ENOMEM;
        items->v = grown;
        items->cap = cap;
    }
    items->v[items->count++] = (analytics_item_t) {
        .kind = kind, .field = field, .scope = scope, .a = a, .b = b, .name = name, .value = value,
    };
    return 0;
}

/* Contributions are written once per scope through this. */
typedef struct {
    const analytics_scopes_t *scopes;
    analytics_items_t *items;
    int sign;
    int rc;
} s_out_t;

static void s_add(s_out_t *o, uint8_t kind, uint8_t field, int64_t a, int64_t b, const char *name, int64_t value)
{
    if (o->rc || value == 0)
        return;
    for (size_t i = 0; i < o->scopes->count && o->rc == 0; i++)
        o->rc = s_item(o->items, kind, field, o->scopes->text[i], a, b, name, value * o->sign);
}

static void s_day(s_out_t *o, int field, int64_t day, int64_t value)
{
    s_add(o, ANALYTICS_ITEM_DAY, (uint8_t) field, day, 0, NULL, value);
}

bool analytics_purchase_net(const Crm__V1__PurchaseFact *p)
{
    return p->amount_minor == 0 || p->refunded_minor < p->amount_minor;
}

static int s_purchase_cmp(const void *a, const void *b)
{
    const Crm__V1__PurchaseFact *x = *(const Crm__V1__PurchaseFact *const *) a;
    const Crm__V1__PurchaseFact *y = *(const Crm__V1__PurchaseFact *const *) b;
    if (x->time_us != y->time_us)
        return x->time_us < y->time_us ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* DayFigures field numbers (proto/crm/v1/analytics.proto). */
enum {
    F_CUSTOMERS_CREATED = 1, F_FIRST_PURCHASES, F_SECOND_PURCHASES, F_ORDERS, F_MONEY_ORDERS, F_REVENUE,
    F_NET_REVENUE, F_REFUNDS, F_ACTIVE_STARTS, F_ACTIVE_ENDS, F_PROSPECT_STARTS, F_PROSPECT_ENDS,
    F_NPS_ANSWERS, F_NPS_PROMOTERS, F_NPS_DETRACTORS, F_CSAT_ANSWERS, F_CSAT_SATISFIED, F_CES_ANSWERS,
    F_CES_SCORE_SUM, F_COMPLAINTS_OPENED, F_COMPLAINTS_BREACHED, F_COMPLAINTS_REOPENED, F_FIRST_RESPONSES,
    F_FIRST_RESPONSE_SECONDS, F_RESOLUTIONS, F_RESOLUTION_SECONDS, F_RESOLVED_FIRST_CONTACT, F_POINTS_EARNED,
    F_POINTS_REDEEMED, F_POINTS_EXPIRED, F_POINTS_OTHER, F_MEMBERS_NEW,
};

/* Profile and purchases: orders and money by purchase day, refunds by refund day, the first and
 * second net purchase, active spells, cohort cells, and the prospect spell. */
static int s_contrib_purchases(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, s_out_t *o)
{
    int64_t off = an->settings.utc_offset_us;
    int64_t window = an->settings.active_window_days;
    const Crm__V1__PurchaseFact **net = NULL;
    size_t n = 0;
    if (c->n_purchases) {
        net = malloc(c->n_purchases * sizeof *net);
        if (!net)
            return CRM_ENOMEM;
    }
    for (size_t i = 0; i < c->n_purchases; i++) {
        const Crm__V1__PurchaseFact *p = c->purchases[i];
        int64_t day = analytics_day_of(p->time_us, off);
        bool is_net = analytics_purchase_net(p);
        if (is_net) {
            net[n++] = p;
            s_day(o, F_ORDERS, day, 1);
        }
        if (strcmp(p->currency, an->settings.currency) != 0)
            continue;
        int64_t refunded = p->refunded_minor > p->amount_minor ? p->amount_minor : p->refunded_minor;
        s_day(o, F_REVENUE, day, p->amount_minor);
        s_day(o, F_NET_REVENUE, day, p->amount_minor - refunded);
        if (is_net)
            s_day(o, F_MONEY_ORDERS, day, 1);
        for (size_t r = 0; r < p->n_refunds; r++)
            s_day(o, F_REFUNDS, analytics_day_of(p->refunds[r]->time_us, off), p->refunds[r]->amount_minor);
    }
    if (n > 1)
        qsort(net, n, sizeof *net, s_purchase_cmp);
    int64_t first = 0;
    if (n) {
        first = analytics_day_of(net[0]->time_us, off);
        s_day(o, F_FIRST_PURCHASES, first, 1);
        if (n >= 2)
            s_day(o, F_SECOND_PURCHASES, analytics_day_of(net[1]->time_us, off), 1);
        /* Active spells: purchase days closer than the window join; a spell ends (the customer
         * lapses) `window` days after its last purchase. */
        int64_t start = first, last = first;
        int64_t cohort = analytics_month_of(first), last_month = cohort;
        s_add(o, ANALYTICS_ITEM_COHORT, 0, cohort, 0, NULL, 1);
        for (size_t i = 1; i <= n; i++) {
            int64_t day = i < n ? analytics_day_of(net[i]->time_us, off) : INT64_MAX;
            if (i < n) {
                int64_t month = analytics_month_of(day);
                if (month != last_month)
                    s_add(o, ANALYTICS_ITEM_COHORT, 0, cohort, month - cohort, NULL, 1);
                last_month = month;
            }
            if (i < n && day - last <= window) {
                last = day;
                continue;
            }
            int64_t lapse = last + window;
            s_day(o, F_ACTIVE_STARTS, start, 1);
            s_day(o, F_ACTIVE_ENDS, lapse, 1);
            s_add(o, ANALYTICS_ITEM_LAPSE, 0, lapse, start, c->id, 1);
            start = last = day;
        }
    }
    if (c->created_us) {
        int64_t created = analytics_day_of(c->created_us, off);
        s_day(o, F_CUSTOMERS_CREATED, created, 1);
        if (!n || created < first)
            s_day(o, F_PROSPECT_STARTS, created, 1);
        if (n && created < first)
            s_day(o, F_PROSPECT_ENDS, first, 1);
    }
    free(net);
    return 0;
}

static void s_contrib_answers(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, s_out_t *o)
{
    for (size_t i = 0; i < c->n_answers; i++) {
        const Crm__V1__AnswerFact *a = c->answers[i];
        int64_t day = analytics_day_of(a->time_us, an->settings.utc_offset_us);
        switch (a->kind) {
        case CRM__V1__SURVEY_KIND__SURVEY_KIND_NPS:
            s_day(o, F_NPS_ANSWERS, day, 1);
            s_day(o, F_NPS_PROMOTERS, day, a->score >= 9);
            s_day(o, F_NPS_DETRACTORS, day, a->score <= 6);
            break;
        case CRM__V1__SURVEY_KIND__SURVEY_KIND_CSAT:
            s_day(o, F_CSAT_ANSWERS, day, 1);
            s_day(o, F_CSAT_SATISFIED, day, a->score >= 4);
            break;
        case CRM__V1__SURVEY_KIND__SURVEY_KIND_CES:
            s_day(o, F_CES_ANSWERS, day, 1);
            s_day(o, F_CES_SCORE_SUM, day, a->score);
            break;
        default:
            break;
        }
    }
}

static void s_contrib_complaints(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, s_out_t *o)
{
    int64_t off = an->settings.utc_offset_us;
    for (size_t i = 0; i < c->n_complaints; i++) {
        const Crm__V1__ComplaintFact *k = c->complaints[i];
        int64_t opened = analytics_day_of(k->created_us, off);
        s_day(o, F_COMPLAINTS_OPENED, opened, 1);
        s_day(o, F_COMPLAINTS_BREACHED, opened, k->breached);
        s_day(o, F_COMPLAINTS_REOPENED, opened, k->reopen_count > 0);
        if (k->first_response_us) {
            int64_t day = analytics_day_of(k->first_response_us, off);
            s_day(o, F_FIRST_RESPONSES, day, 1);
            s_day(o, F_FIRST_RESPONSE_SECONDS, day, k->first_response_seconds);
        }
        bool resolved = k->status == CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_RESOLVED
                        || k->status == CRM__V1__COMPLAINT_STATUS__COMPLAINT_STATUS_CLOSED;
        if (resolved && k->resolved_us) {
            int64_t day = analytics_day_of(k->resolved_us, off);
            s_day(o, F_RESOLUTIONS, day, 1);
            s_day(o, F_RESOLUTION_SECONDS, day, k->resolution_seconds);
            s_day(o, F_RESOLVED_FIRST_CONTACT, day, k->first_contact);
        }
    }
}

static int s_tier_cmp(const void *a, const void *b)
{
    const Crm__V1__TierChangeFact *x = *(const Crm__V1__TierChangeFact *const *) a;
    const Crm__V1__TierChangeFact *y = *(const Crm__V1__TierChangeFact *const *) b;
    if (x->time_us != y->time_us)
        return x->time_us < y->time_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Points by day, the membership start, and the tier timeline (+1 to a tier from the day the
 * customer holds it, -1 from the day they leave it). */
static int s_contrib_loyalty(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, s_out_t *o)
{
    int64_t off = an->settings.utc_offset_us;
    for (size_t i = 0; i < c->n_loyalty_days; i++) {
        const Crm__V1__LoyaltyDayFact *d = c->loyalty_days[i];
        s_day(o, F_POINTS_EARNED, d->day, d->earned);
        s_day(o, F_POINTS_REDEEMED, d->day, d->redeemed);
        s_day(o, F_POINTS_EXPIRED, d->day, d->expired);
        s_day(o, F_POINTS_OTHER, d->day, d->other);
    }
    if (!c->member_since_us)
        return 0;
    int64_t since = analytics_day_of(c->member_since_us, off);
    s_day(o, F_MEMBERS_NEW, since, 1);
    const Crm__V1__TierChangeFact **changes = NULL;
    if (c->n_tier_changes) {
        changes = malloc(c->n_tier_changes * sizeof *changes);
        if (!changes)
            return CRM_ENOMEM;
        memcpy(changes, c->tier_changes, c->n_tier_changes * sizeof *changes);
        qsort(changes, c->n_tier_changes, sizeof *changes, s_tier_cmp);
    }
    const char *entry = an->settings.entry_tier;
    const char *current = c->n_tier_changes && changes[0]->from_tier[0] ? changes[0]->from_tier : entry;
    s_add(o, ANALYTICS_ITEM_TIER, 0, since, 0, current, 1);
    for (size_t i = 0; i < c->n_tier_changes; i++) {
        int64_t day = analytics_day_of(changes[i]->time_us, off);
        if (day < since)
            day = since;
        const char *to = changes[i]->to_tier[0] ? changes[i]->to_tier : entry;
        s_add(o, ANALYTICS_ITEM_TIER, 0, day, 0, current, -1);
        s_add(o, ANALYTICS_ITEM_TIER, 0, day, 0, to, 1);
        current = to;
    }
    free(changes);
    return 0;
}

int analytics_contrib(const analytics_t *an, const Crm__V1__AnalyticsCustomer *c, const analytics_scopes_t *scopes,
                      unsigned families, int sign, analytics_items_t *items)
{
    if (c->deleted || c->merged_into[0])
        return 0;
    s_out_t o = { .scopes = scopes, .items = items, .sign = sign };
    int rc = 0;
    if (families & ANALYTICS_FAM_PURCHASES)
        rc = s_contrib_purchases(an, c, &o);
    if (rc == 0 && (families & ANALYTICS_FAM_ANSWERS))
        s_contrib_answers(an, c, &o);
    if (rc == 0 && (families & ANALYTICS_FAM_COMPLAINTS))
        s_contrib_complaints(an, c, &o);
    if (rc == 0 && (families & ANALYTICS_FAM_LOYALTY))
        rc = s_contrib_loyalty(an, c, &o);
    return rc ? rc : o.rc;
}

/* --- Writing the difference */

static int s_strcmp0(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

/* Orders items by record (kind, scope, a, b, name), then field. */
static int s_item_cmp(const void *pa, const void *pb)
{
    const analytics_item_t *x = pa, *y = pb;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    int c = x->scope == y->scope ? 0 : strcmp(x->scope, y->scope);
    if (c)
        return c;
    if (x->a != y->a)
        return x->a < y->a ? -1 : 1;
    if (x->b != y->b)
        return x->b < y->b ? -1 : 1;
    c = s_strcmp0(x->name, y->name);
    if (c)
        return c;
    return x->field < y->field ? -1 : x->field > y->field;
}

static bool s_same_record(const analytics_item_t *x, const analytics_item_t *y)
{
    return x->kind == y->kind && x->a == y->a && x->b == y->b
           && (x->scope == y->scope || strcmp(x->scope, y->scope) == 0) && s_strcmp0(x->name, y->name) == 0;
}

/* The key of an item's record. Returns its length. */
static size_t s_item_key(const analytics_item_t *it, uint8_t key[ANALYTICS_KEY_MAX])
{
    size_t len = analytics_key_scope(key, it->scope);
    analytics_key_day(key + len, it->a);
    len += ANALYTICS_DAY_KEY_LEN;
    switch (it->kind) {
    case ANALYTICS_ITEM_COHORT:
        analytics_key_day(key + len, it->b);
        len += ANALYTICS_DAY_KEY_LEN;
        break;
    case ANALYTICS_ITEM_TIER: {
        size_t n = strlen(it->name);
        assert(n <= ANALYTICS_TIER_MAX);
        memcpy(key + len, it->name, n);
        len += n;
        break;
    }
    case ANALYTICS_ITEM_LAPSE:
        analytics_key_day(key + len, it->b);
        len += ANALYTICS_DAY_KEY_LEN;
        assert(strlen(it->name) == CRM_ID_LEN);
        memcpy(key + len, it->name, CRM_ID_LEN);
        len += CRM_ID_LEN;
        break;
    default:
        break;
    }
    return len;
}

/* Adds the summed deltas of one day record (items[from..to), sorted by field). */
static int s_apply_day(const analytics_t *an, crm_txn_t *txn, const uint8_t *key, size_t len,
                       const analytics_item_t *items, size_t count)
{
    const ProtobufCMessageDescriptor *desc = &crm__v1__day_figures__descriptor;
    Crm__V1__DayFigures day = CRM__V1__DAY_FIGURES__INIT;
    Crm__V1__DayFigures *stored = NULL;
    int rc = analytics_record_get(txn, an->db.days, key, len, desc, (ProtobufCMessage **) &stored);
    if (rc == 0) {
        day = *stored;
        crm_codec_message_free((ProtobufCMessage **) &stored);
    } else if (rc != CRM_ENOTFOUND) {
        return rc;
    }
    for (size_t i = 0; i < count; i++) {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, items[i].field);
        assert(f && f->type == PROTOBUF_C_TYPE_INT64);
        *(int64_t *) ((char *) &day + f->offset) += items[i].value;
    }
    bool empty = true;
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (*(const int64_t *) ((const char *) &day + desc->fields[i].offset) != 0)
            empty = false;
    if (empty)
        return analytics_record_del(txn, an->db.days, key, len);
    return analytics_record_put(txn, an->db.days, key, len, &day.base);
}

static int s_apply_counter(crm_txn_t *txn, crm_db_t db, const uint8_t *key, size_t len, int64_t delta)
{
    Crm__V1__AnalyticsCounter *stored = NULL;
    int64_t value = 0;
    int rc = analytics_record_get(txn, db, key, len, &crm__v1__analytics_counter__descriptor,
                                  (ProtobufCMessage **) &stored);
    if (rc == 0) {
        value = stored->value;
        crm_codec_message_free((ProtobufCMessage **) &stored);
    } else if (rc != CRM_ENOTFOUND) {
        return rc;
    }
    value += delta;
    if (value == 0)
        return analytics_record_del(txn, db, key, len);
    Crm__V1__AnalyticsCounter counter = CRM__V1__ANALYTICS_COUNTER__INIT;
    counter.value = value;
    return analytics_record_put(txn, db, key, len, &counter.base);
}

int analytics_items_apply(const analytics_t *an, crm_txn_t *txn, analytics_items_t *items)
{
    if (items->count == 0)
        return 0;
    qsort(items->v, items->count, sizeof *items->v, s_item_cmp);
    /* Sum equal items in place, dropping zero sums. */
    size_t out = 0;
    for (size_t i = 0; i < items->count;) {
        analytics_item_t sum = items->v[i];
        size_t j = i + 1;
        for (; j < items->count && s_same_record(&items->v[j], &sum) && items->v[j].field == sum.field; j++)
            sum.value += items->v[j].value;
        if (sum.value != 0)
            items->v[out++] = sum;
        i = j;
    }
    items->count = out;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < items->count;) {
        size_t j = i + 1;
        while (j < items->count && s_same_record(&items->v[j], &items->v[i]))
            j++;
        uint8_t key[ANALYTICS_KEY_MAX];
        size_t len = s_item_key(&items->v[i], key);
        switch (items->v[i].kind) {
        case ANALYTICS_ITEM_DAY:
            rc = s_apply_day(an, txn, key, len, &items->v[i], j - i);
            break;
        case ANALYTICS_ITEM_COHORT:
            rc = s_apply_counter(txn, an->db.cohorts, key, len, items->v[i].value);
            break;
        case ANALYTICS_ITEM_TIER:
            rc = s_apply_counter(txn, an->db.tiers, key, len, items->v[i].value);
            break;
        case ANALYTICS_ITEM_LAPSE:
            /* A spell is there (+1) or not (-1): the sum is never anything else. */
            assert(items->v[i].value == 1 || items->v[i].value == -1);
            rc = items->v[i].value > 0 ? crm_store_put(txn, an->db.lapses, key, len, "", 0, 0)
                                       : analytics_record_del(txn, an->db.lapses, key, len);
            break;
        default:
            assert(!"unknown item kind");
        }
        i = j;
    }
    return rc;
}

/* --- The fold */

int analytics_customer_get(const analytics_t *an, crm_txn_t *txn, const char *customer_id,
                           Crm__V1__AnalyticsCustomer **c_p)
{
    *c_p = NULL;
    int rc = analytics_record_get(txn, an->db.customers, customer_id, strlen(customer_id),
                                  &crm__v1__analytics_customer__descriptor, (ProtobufCMessage **) c_p);
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

static int s_customer_put(const analytics_t *an, crm_txn_t *txn, const Crm__V1__AnalyticsCustomer *c)
{
    return analytics_record_put(txn, an->db.customers, c->id, strlen(c->id), &c->base);
}

/* A copy of c (or a fresh customer with id when c is NULL), to change. */
static int s_customer_copy(const Crm__V1__AnalyticsCustomer *c, const char *id, Crm__V1__AnalyticsCustomer **out)
{
    *out = NULL;
    if (c) {
        void *buf = NULL;
        size_t len = 0;
        int rc = crm_codec_msgpack_encode(&c->base, &buf, &len);
        if (rc == 0)
            rc = crm_codec_msgpack_decode(&crm__v1__analytics_customer__descriptor, buf, len,
                                          (ProtobufCMessage **) out, NULL);
        free(buf);
        return rc;
    }
    int rc = crm_codec_message_new(&crm__v1__analytics_customer__descriptor, (ProtobufCMessage **) out);
    if (rc == 0)
        rc = s_str_set(&(*out)->id, id);
    if (rc)
        crm_codec_message_free((ProtobufCMessage **) out);
    return rc;
}

/* Follows merge links from customer_id. Sets *c_p to the record at the end (NULL when unknown)
 * and writes its id; when copy_p is not NULL, *copy_p gets a second decoding of the same record
 * (NULL when unknown), to change. */
static int s_resolve(const analytics_t *an, crm_txn_t *txn, const char *customer_id, char id[CRM_ID_SIZE],
                     Crm__V1__AnalyticsCustomer **c_p, Crm__V1__AnalyticsCustomer **copy_p)
{
    const ProtobufCMessageDescriptor *desc = &crm__v1__analytics_customer__descriptor;
    snprintf(id, CRM_ID_SIZE, "%s", customer_id);
    *c_p = NULL;
    if (copy_p)
        *copy_p = NULL;
    for (int hop = 0; hop <= ANALYTICS_MERGE_HOPS; hop++) {
        crm_val_t v;
        int rc = crm_store_get(txn, an->db.customers, id, strlen(id), &v);
        if (rc == CRM_ENOTFOUND)
            return 0;
        if (rc == 0)
            rc = crm_codec_msgpack_decode(desc, v.data, v.size, (ProtobufCMessage **) c_p, NULL);
        if (rc)
            return rc;
        if (!(*c_p)->merged_into[0]) {
            if (copy_p)
                rc = crm_codec_msgpack_decode(desc, v.data, v.size, (ProtobufCMessage **) copy_p, NULL);
            return rc;
        }
        if (!crm_id_valid((*c_p)->merged_into))
            return CRM_EINVALID;
        snprintf(id, CRM_ID_SIZE, "%s", (*c_p)->merged_into);
        crm_codec_message_free((ProtobufCMessage **) c_p);
    }
    return CRM_EINVALID;   /* a loop of merges: not something contacts makes */
}

/* Writes the difference between the contributions of old (may be NULL) and new over families. */
static int s_write_difference(const analytics_t *an, crm_txn_t *txn, const Crm__V1__AnalyticsCustomer *old,
                              const Crm__V1__AnalyticsCustomer *new, unsigned families)
{
    analytics_scopes_t old_scopes, new_scopes;
    analytics_items_t items = { 0 };
    int rc = 0;
    if (old) {
        analytics_scopes(an, old, &old_scopes);
        rc = analytics_contrib(an, old, &old_scopes, families, -1, &items);
    }
    if (rc == 0 && new) {
        analytics_scopes(an, new, &new_scopes);
        rc = analytics_contrib(an, new, &new_scopes, families, 1, &items);
    }
    if (rc == 0)
        rc = analytics_items_apply(an, txn, &items);
    analytics_items_clear(&items);
    return rc;
}

static bool s_scopes_equal(const analytics_t *an, const Crm__V1__AnalyticsCustomer *a,
                           const Crm__V1__AnalyticsCustomer *b)
{
    analytics_scopes_t x, y;
    analytics_scopes(an, a, &x);
    analytics_scopes(an, b, &y);
    if (x.count != y.count)
        return false;
    for (size_t i = 0; i < x.count; i++)
        if (strcmp(x.text[i], y.text[i]) != 0)
            return false;
    return true;
}

int analytics_fold(analytics_t *an, crm_txn_t *txn, const char *customer_id, analytics_mutate_fn fn,
                   void *arg, char resolved_id[CRM_ID_SIZE], unsigned *families)
{
    *families = 0;
    resolved_id[0] = '\0';
    if (!crm_id_valid(customer_id))
        return CRM_EINVALID;
    char id[CRM_ID_SIZE];
    Crm__V1__AnalyticsCustomer *old = NULL, *new = NULL;
    int rc = s_resolve(an, txn, customer_id, id, &old, &new);
    if (rc || (old && old->deleted))
        goto out;
    if (!new)
        rc = s_customer_copy(NULL, id, &new);
    if (rc == 0)
        rc = fn(an, new, arg, families);
    if (rc || *families == 0)
        goto out;
    unsigned figures = *families & ANALYTICS_FAM_ALL;
    if (figures && old && !s_scopes_equal(an, old, new))
        figures = ANALYTICS_FAM_ALL;   /* a new segment: everything moves */
    if (figures && !old)
        figures = ANALYTICS_FAM_ALL;
    new->folded_wall_us = analytics_now(an);
    if (figures)
        rc = s_write_difference(an, txn, old, new, figures);
    if (rc == 0)
        rc = s_customer_put(an, txn, new);
    if (rc == 0) {
        snprintf(resolved_id, CRM_ID_SIZE, "%s", id);
        *families = figures | (*families & S_FACTS_ONLY);
    }
out:
    crm_codec_message_free((ProtobufCMessage **) &old);
    crm_codec_message_free((ProtobufCMessage **) &new);
    return rc;
}

/* Drops what analytics published about a customer that no longer exists. */
static int s_state_drop(const analytics_t *an, crm_txn_t *txn, const char *customer_id)
{
    size_t len = strlen(customer_id);
    Crm__V1__CustomerState *st = NULL;
    int rc = analytics_record_get(txn, an->db.states, customer_id, len, &crm__v1__customer_state__descriptor,
                                  (ProtobufCMessage **) &st);
    if (rc == CRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (st->due_us) {
        uint8_t key[ANALYTICS_TIME_KEY_LEN + CRM_ID_LEN];
        analytics_key_time(key, st->due_us);
        memcpy(key + ANALYTICS_TIME_KEY_LEN, customer_id, CRM_ID_LEN);
        rc = analytics_record_del(txn, an->db.due, key, sizeof key);
    }
    if (rc == 0 && st->score > 0) {
        uint8_t key[1 + CRM_ID_LEN];
        key[0] = (uint8_t) (255 - (st->score > 255 ? 255 : st->score));
        memcpy(key + 1, customer_id, CRM_ID_LEN);
        rc = analytics_record_del(txn, an->db.risk, key, sizeof key);
    }
    if (rc == 0)
        rc = analytics_record_del(txn, an->db.states, customer_id, len);
    crm_codec_message_free((ProtobufCMessage **) &st);
    return rc;
}

/* Moves every fact of from into into (facts already there by id are kept as they are). */
static int s_facts_join(Crm__V1__AnalyticsCustomer *into, const Crm__V1__AnalyticsCustomer *from)
{
    unsigned ignored = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < from->n_purchases; i++) {
        const Crm__V1__PurchaseFact *p = from->purchases[i];
        bool there = false;
        for (size_t k = 0; k < into->n_purchases; k++)
            there = there || strcmp(into->purchases[k]->id, p->id) == 0;
        if (there)
            continue;
        rc = analytics_fact_purchase(into, p->id, p->time_us, p->amount_minor, p->currency, p->refunded_minor,
                                     NULL, &ignored);
        Crm__V1__PurchaseFact *added = rc == 0 ? into->purchases[into->n_purchases - 1] : NULL;
        for (size_t r = 0; rc == 0 && r < p->n_refunds; r++) {
            Crm__V1__RefundFact *refund = NULL;
            rc = s_append((void ***) &added->refunds, &added->n_refunds, &crm__v1__refund_fact__descriptor,
                          (void **) &refund);
            if (rc == 0) {
                refund->amount_minor = p->refunds[r]->amount_minor;
                refund->time_us = p->refunds[r]->time_us;
                rc = s_str_set(&refund->id, p->refunds[r]->id);
            }
        }
    }
    for (size_t i = 0; rc == 0 && i < from->n_answers; i++)
        rc = analytics_fact_answer(into, from->answers[i], &ignored);
    for (size_t i = 0; rc == 0 && i < from->n_complaints; i++)
        rc = analytics_fact_complaint(into, from->complaints[i], &ignored);
    for (size_t i = 0; rc == 0 && i < from->n_loyalty_days; i++) {
        const Crm__V1__LoyaltyDayFact *d = from->loyalty_days[i];
        rc = analytics_fact_points(into, d->day, 0, d->earned, d->redeemed, d->expired, d->other, false, &ignored);
    }
    for (size_t i = 0; rc == 0 && i < from->n_tier_changes; i++) {
        const Crm__V1__TierChangeFact *t = from->tier_changes[i];
        rc = analytics_fact_tier(into, t->time_us, t->from_tier, t->to_tier, t->order, &ignored);
    }
    if (rc == 0 && from->member_since_us && (!into->member_since_us || from->member_since_us < into->member_since_us))
        into->member_since_us = from->member_since_us;
    if (from->last_redeem_us > into->last_redeem_us)
        into->last_redeem_us = from->last_redeem_us;
    if (rc == 0 && from->notice_us)
        rc = analytics_fact_notice(into, from->notice_us, from->notice_expires_us, from->notice_points, &ignored);
    for (size_t i = 0; rc == 0 && i < from->n_contact_us; i++)
        rc = analytics_fact_contact(into, from->contact_us[i], &ignored);
    return rc;
}

int analytics_fold_merge(analytics_t *an, crm_txn_t *txn, const char *survivor_id, const char *merged_id,
                         const Crm__V1__Customer *survivor)
{
    if (!crm_id_valid(survivor_id) || !crm_id_valid(merged_id) || strcmp(survivor_id, merged_id) == 0)
        return CRM_EINVALID;
    char sid[CRM_ID_SIZE], mid[CRM_ID_SIZE];
    Crm__V1__AnalyticsCustomer *s_old = NULL, *m_old = NULL, *s_new = NULL, *m_new = NULL;
    analytics_items_t items = { 0 };
    int rc = s_resolve(an, txn, survivor_id, sid, &s_old, NULL);
    if (rc == 0)
        rc = s_resolve(an, txn, merged_id, mid, &m_old, NULL);
    if (rc || strcmp(sid, mid) == 0 || (s_old && s_old->deleted))
        goto out;   /* merged already (a replay), or the survivor is gone */
    rc = s_customer_copy(s_old, sid, &s_new);
    if (rc == 0 && m_old && !m_old->deleted)
        rc = s_facts_join(s_new, m_old);
    unsigned ignored = 0;
    if (rc == 0 && survivor)
        rc = analytics_fact_profile(s_new, survivor, &ignored);
    if (rc)
        goto out;
    s_new->folded_wall_us = analytics_now(an);
    /* The link left behind: no facts, events about it go to the survivor. */
    rc = crm_codec_message_new(&crm__v1__analytics_customer__descriptor, (ProtobufCMessage **) &m_new);
    if (rc == 0)
        rc = s_str_set(&m_new->id, mid);
    if (rc == 0)
        rc = s_str_set(&m_new->merged_into, sid);
    analytics_scopes_t scopes[3];
    if (rc == 0 && s_old) {
        analytics_scopes(an, s_old, &scopes[0]);
        rc = analytics_contrib(an, s_old, &scopes[0], ANALYTICS_FAM_ALL, -1, &items);
    }
    if (rc == 0 && m_old) {
        analytics_scopes(an, m_old, &scopes[1]);
        rc = analytics_contrib(an, m_old, &scopes[1], ANALYTICS_FAM_ALL, -1, &items);
    }
    if (rc == 0) {
        analytics_scopes(an, s_new, &scopes[2]);
        rc = analytics_contrib(an, s_new, &scopes[2], ANALYTICS_FAM_ALL, 1, &items);
    }
    if (rc == 0)
        rc = analytics_items_apply(an, txn, &items);
    if (rc == 0)
        rc = s_customer_put(an, txn, s_new);
    if (rc == 0)
        rc = s_customer_put(an, txn, m_new);
    if (rc == 0)
        rc = s_state_drop(an, txn, mid);
out:
    analytics_items_clear(&items);
    crm_codec_message_free((ProtobufCMessage **) &s_old);
    crm_codec_message_free((ProtobufCMessage **) &m_old);
    crm_codec_message_free((ProtobufCMessage **) &s_new);
    crm_codec_message_free((ProtobufCMessage **) &m_new);
    return rc;
}

int analytics_fold_delete(analytics_t *an, crm_txn_t *txn, const char *customer_id)
{
    if (!crm_id_valid(customer_id))
        return CRM_EINVALID;
    char id[CRM_ID_SIZE];
    Crm__V1__AnalyticsCustomer *old = NULL, *gone = NULL;
    int rc = s_resolve(an, txn, customer_id, id, &old, NULL);
    if (rc || (old && old->deleted))
        goto out;
    if (old)
        rc = s_write_difference(an, txn, old, NULL, ANALYTICS_FAM_ALL);
    if (rc == 0)
        rc = crm_codec_message_new(&crm__v1__analytics_customer__descriptor, (ProtobufCMessage **) &gone);
    if (rc == 0)
        rc = s_str_set(&gone->id, id);
    if (rc == 0) {
        gone->deleted = true;
        rc = s_customer_put(an, txn, gone);
    }
    if (rc == 0)
        rc = s_state_drop(an, txn, id);
out:
    crm_codec_message_free((ProtobufCMessage **) &old);
    crm_codec_message_free((ProtobufCMessage **) &gone);
    return rc;
}

/* --- Fact changes */

int analytics_fact_profile(Crm__V1__AnalyticsCustomer *c, const Crm__V1__Customer *cust, unsigned *families)
{
    int64_t created = analytics_ts_us(cust->created_at);
    int rc = 0;
    if (created && created != c->created_us) {
        c->created_us = created;
        *families |= ANALYTICS_FAM_PURCHASES;
    }
    if (cust->need_type != c->need_type) {
        c->need_type = cust->need_type;
        *families |= ANALYTICS_FAM_ALL;
    }
    if (strlen(cust->owner) > ANALYTICS_OWNER_MAX)
        return CRM_EINVALID;
    if (strcmp(cust->owner, c->owner) != 0) {
        rc = s_str_set(&c->owner, cust->owner);
        *families |= ANALYTICS_FAM_ALL;
    }
    if (cust->lifecycle_stage != c->stage) {
        c->stage = cust->lifecycle_stage;
        *families |= S_FACTS_ONLY;
    }
    return rc;
}

int analytics_fact_purchase(Crm__V1__AnalyticsCustomer *c, const char *id, int64_t time_us, int64_t amount_minor,
                            const char *currency, int64_t refunded_minor, const Crm__V1__RefundFact *refund,
                            unsigned *families)
{
    if (!id[0] || strlen(id) > ANALYTICS_REF_MAX || amount_minor < 0 || refunded_minor < 0
        || strlen(currency) > ANALYTICS_CURRENCY_LEN)
        return CRM_EINVALID;
    Crm__V1__PurchaseFact *p = NULL;
    for (size_t i = 0; i < c->n_purchases && !p; i++)
        if (strcmp(c->purchases[i]->id, id) == 0)
            p = c->purchases[i];
    int rc = 0;
    if (!p) {
        rc = s_append((void ***) &c->purchases, &c->n_purchases, &crm__v1__purchase_fact__descriptor, (void **) &p);
        if (rc == 0)
            rc = s_str_set(&p->id, id);
        if (rc == 0)
            rc = s_str_set(&p->currency, currency);
        if (rc)
            return rc;
        p->time_us = time_us;
        p->amount_minor = amount_minor;
        p->refunded_minor = refunded_minor;
        s_settle((void **) c->purchases, c->n_purchases, s_purchase_order);
        *families |= ANALYTICS_FAM_PURCHASES;
    } else if (refunded_minor > p->refunded_minor) {
        p->refunded_minor = refunded_minor;
        *families |= ANALYTICS_FAM_PURCHASES;
    }
    if (!refund || !refund->id[0])
        return 0;
    if (strlen(refund->id) > ANALYTICS_REF_MAX || refund->amount_minor < 0)
        return CRM_EINVALID;
    for (size_t i = 0; i < p->n_refunds; i++)
        if (strcmp(p->refunds[i]->id, refund->id) == 0)
            return 0;
    Crm__V1__RefundFact *r = NULL;
    rc = s_append((void ***) &p->refunds, &p->n_refunds, &crm__v1__refund_fact__descriptor, (void **) &r);
    if (rc == 0)
        rc = s_str_set(&r->id, refund->id);
    if (rc == 0) {
        r->amount_minor = refund->amount_minor;
        r->time_us = refund->time_us;
        s_settle((void **) p->refunds, p->n_refunds, s_refund_order);
        *families |= ANALYTICS_FAM_PURCHASES;
    }
    return rc;
}

int analytics_fact_answer(Crm__V1__AnalyticsCustomer *c, const Crm__V1__AnswerFact *answer, unsigned *families)
{
    if (!answer->id[0] || strlen(answer->id) > ANALYTICS_REF_MAX)
        return CRM_EINVALID;
    for (size_t i = 0; i < c->n_answers; i++)
        if (strcmp(c->answers[i]->id, answer->id) == 0)
            return 0;
    Crm__V1__AnswerFact *a = NULL;
    int rc = s_append((void ***) &c->answers, &c->n_answers, &crm__v1__answer_fact__descriptor, (void **) &a);
    if (rc == 0)
        rc = s_str_set(&a->id, answer->id);
    if (rc == 0) {
        a->time_us = answer->time_us;
        a->kind = answer->kind;
        a->score = answer->score;
        a->answer_class = answer->answer_class;
        s_settle((void **) c->answers, c->n_answers, s_answer_order);
        *families |= ANALYTICS_FAM_ANSWERS;
    }
    return rc;
}

int analytics_fact_complaint(Crm__V1__AnalyticsCustomer *c, const Crm__V1__ComplaintFact *complaint,
                             unsigned *families)
{
    if (!complaint->id[0] || strlen(complaint->id) > ANALYTICS_REF_MAX)
        return CRM_EINVALID;
    Crm__V1__ComplaintFact *k = NULL;
    for (size_t i = 0; i < c->n_complaints && !k; i++)
        if (strcmp(c->complaints[i]->id, complaint->id) == 0)
            k = c->complaints[i];
    if (k && complaint->version < k->version)
        return 0;   /* older news */
    int rc = 0;
    if (!k) {
        rc = s_append((void ***) &c->complaints, &c->n_complaints, &crm__v1__complaint_fact__descriptor,
                      (void **) &k);
        if (rc == 0)
            rc = s_str_set(&k->id, complaint->id);
        if (rc)
            return rc;
        s_settle((void **) c->complaints, c->n_complaints, s_complaint_order);
    }
    char *keep_id = k->id;
    Crm__V1__ComplaintFact copy = *complaint;
    copy.id = keep_id;
    bool same = k->created_us == copy.created_us && k->status == copy.status
                && k->first_response_us == copy.first_response_us
                && k->first_response_seconds == copy.first_response_seconds && k->resolved_us == copy.resolved_us
                && k->resolution_seconds == copy.resolution_seconds && k->first_contact == copy.first_contact
                && k->breached == copy.breached && k->reopen_count == copy.reopen_count
                && k->version == copy.version;
    *k = copy;
    if (!same)
        *families |= ANALYTICS_FAM_COMPLAINTS;
    return 0;
}

int analytics_fact_points(Crm__V1__AnalyticsCustomer *c, int64_t day, int64_t time_us, int64_t earned,
                          int64_t redeemed, int64_t expired, int64_t other, bool redeem, unsigned *families)
{
    Crm__V1__LoyaltyDayFact *d = NULL;
    for (size_t i = 0; i < c->n_loyalty_days && !d; i++)
        if (c->loyalty_days[i]->day == day)
            d = c->loyalty_days[i];
    int rc = 0;
    if (!d) {
        rc = s_append((void ***) &c->loyalty_days, &c->n_loyalty_days, &crm__v1__loyalty_day_fact__descriptor,
                      (void **) &d);
        if (rc)
            return rc;
        d->day = day;
        s_settle((void **) c->loyalty_days, c->n_loyalty_days, s_loyalty_day_order);
    }
    d->earned += earned;
    d->redeemed += redeemed;
    d->expired += expired;
    d->other += other;
    if (time_us && (!c->member_since_us || time_us < c->member_since_us))
        c->member_since_us = time_us;
    if (redeem && time_us > c->last_redeem_us)
        c->last_redeem_us = time_us;
    *families |= ANALYTICS_FAM_LOYALTY;
    return 0;
}

int analytics_fact_tier(Crm__V1__AnalyticsCustomer *c, int64_t time_us, const char *from_tier, const char *to_tier,
                        uint64_t order, unsigned *families)
{
    if (strlen(from_tier) > ANALYTICS_TIER_MAX || strlen(to_tier) > ANALYTICS_TIER_MAX)
        return CRM_EINVALID;
    for (size_t i = 0; i < c->n_tier_changes; i++)
        if (c->tier_changes[i]->order == order && c->tier_changes[i]->time_us == time_us
            && strcmp(c->tier_changes[i]->to_tier, to_tier) == 0)
            return 0;
    Crm__V1__TierChangeFact *t = NULL;
    int rc = s_append((void ***) &c->tier_changes, &c->n_tier_changes, &crm__v1__tier_change_fact__descriptor,
                      (void **) &t);
    if (rc == 0)
        rc = s_str_set(&t->from_tier, from_tier);
    if (rc == 0)
        rc = s_str_set(&t->to_tier, to_tier);
    if (rc)
        return rc;
    t->time_us = time_us;
    t->order = order;
    s_settle((void **) c->tier_changes, c->n_tier_changes, s_tier_order);
    if (!c->member_since_us || time_us < c->member_since_us)
        c->member_since_us = time_us;
    *families |= ANALYTICS_FAM_ALL;   /* the tier is a segment */
    return 0;
}

int analytics_fact_notice(Crm__V1__AnalyticsCustomer *c, int64_t time_us, int64_t expires_us, int64_t points,
                          unsigned *families)
{
    if (time_us < c->notice_us)
        return 0;
    c->notice_us = time_us;
    c->notice_expires_us = expires_us;
    c->notice_points = points;
    *families |= S_FACTS_ONLY;
    return 0;
}

int analytics_fact_contact(Crm__V1__AnalyticsCustomer *c, int64_t time_us, unsigned *families)
{
    for (size_t i = 0; i < c->n_contact_us; i++)
        if (c->contact_us[i] == time_us)
            return 0;
    if (c->n_contact_us == ANALYTICS_CONTACTS_KEPT && time_us <= c->contact_us[c->n_contact_us - 1])
        return 0;   /* older than every time kept */
    if (c->n_contact_us < ANALYTICS_CONTACTS_KEPT) {
        int64_t *grown = realloc(c->contact_us, (c->n_contact_us + 1) * sizeof *grown);
        if (!grown)
            return CRM_ENOMEM;
        c->contact_us = grown;
        c->n_contact_us++;
    }
    /* Insert, newest first, dropping the oldest when full. */
    size_t i = c->n_contact_us - 1;
    while (i > 0 && c->contact_us[i - 1] < time_us) {
        c->contact_us[i] = c->contact_us[i - 1];
        i--;
    }
    c->contact_us[i] = time_us;
    *families |= S_FACTS_ONLY;
    return 0;
}
