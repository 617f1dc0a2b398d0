/* loyalty_ledger.c: the points ledger: lots, entries, spending oldest first, and the invariants. */
#include "loyalty_ledger.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm_codec.h"
#include "crm_error.h"

#define S_DRAWS_FIRST_CAP 8
#define S_NUMBERS_FIRST_CAP 32

/* The topic of each entry kind's event. */
static const char *s_topic(Crm__V1__EntryKind kind)
{
    switch (kind) {
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN: return LOYALTY_TOPIC_EARNED;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_RELEASE: return LOYALTY_TOPIC_RELEASED;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM: return LOYALTY_TOPIC_REDEEMED;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM_CANCEL: return LOYALTY_TOPIC_RESTORED;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_EXPIRE: return LOYALTY_TOPIC_EXPIRED;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_REVERSE: return LOYALTY_TOPIC_REVERSED;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_ADJUST: return LOYALTY_TOPIC_ADJUSTED;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_MERGE_OUT:
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_MERGE_IN: return LOYALTY_TOPIC_MERGED;
    case CRM__V1__ENTRY_KIND__ENTRY_KIND_CLOSE: return LOYALTY_TOPIC_CLOSED;
    default: break;
    }
    assert(!"an entry kind without a topic");
    return NULL;
}

/* --- Draws */

int loyalty_draws_add(loyalty_draws_t *draws, uint64_t lot, int64_t points, bool pending)
{
    if (draws->count == draws->cap) {
        size_t cap = draws->cap ? draws->cap * 2 : S_DRAWS_FIRST_CAP;
        Crm__V1__LotDraw *items = realloc(draws->items, cap * sizeof *items);
        if (!items)
            return CRM_ENOMEM;
        draws->items = items;
        Crm__V1__LotDraw **ptrs = realloc(draws->ptrs, cap * sizeof *ptrs);
        if (!ptrs)
            return CRM_ENOMEM;
        draws->ptrs = ptrs;
        draws->cap = cap;
        for (size_t i = 0; i < draws->count; i++)
            draws->ptrs[i] = &draws->items[i];
    }
    Crm__V1__LotDraw *d = &draws->items[draws->count];
    crm__v1__lot_draw__init(d);
    d->lot = lot;
    d->points = points;
    d->pending = pending;
    draws->ptrs[draws->count] = d;
    draws->count++;
    return 0;
}

void loyalty_draws_clear(loyalty_draws_t *draws)
{
    free(draws->items);
    free(draws->ptrs);
    memset(draws, 0, sizeof *draws);
}

/* --- Entries */

/* Completes entry e (kind, points, pending points and the rest set by the caller, with acc's
 * balances already changed), stores it, publishes its event and stores the account. */
static int s_entry(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, Crm__V1__LedgerEntry *e,
                   uint64_t *entry_out)
{
    assert(acc->balance >= 0 && acc->pending >= 0);
    int64_t now = loyalty_now(ly);
    Crm__V1__Timestamp time;
    e->customer_id = acc->customer_id;
    e->seq = acc->next_entry++;
    e->balance_after = acc->balance;
    e->pending_after = acc->pending;
    e->time = loyalty_ts_set(&time, now);
    uint8_t key[LOYALTY_LOT_KEY_LEN];
    loyalty_key_lot(key, acc->customer_id, e->seq);
    int rc = loyalty_record_put(txn, ly->db.entries, key, sizeof key, &e->base);
    if (rc == 0) {
        Crm__V1__PointsChanged ev = CRM__V1__POINTS_CHANGED__INIT;
        ev.entry = e;
        rc = loyalty_emit(ly, txn, s_topic(e->kind), acc->customer_id, &ev.base, now);
    }
    acc->updated_us = now;
    if (rc == 0)
        rc = loyalty_account_put(&ly->db, txn, acc);
    if (rc == 0 && entry_out)
        *entry_out = e->seq;
    return rc;
}

/* --- Earning */

int loyalty_ledger_earn(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc,
                        const loyalty_earn_t *e, uint64_t *lot_out, uint64_t *entry_out)
{
    if (lot_out)
        *lot_out = 0;
    if (entry_out)
        *entry_out = 0;
    if (e->points <= 0)
        return 0;
    if (e->points > LOYALTY_POINTS_MAX || acc->closed)
        return CRM_EINVALID;
    int64_t now = loyalty_now(ly);
    const loyalty_settings_t *s = &ly->settings;
    int64_t available_us = e->earned_us;
    bool pending = false;
    if (e->pending && s->return_window_us > 0) {
        available_us = e->earned_us + s->return_window_us;
        pending = available_us > now;
    }
    int64_t expires_us = e->expires_us ? e->expires_us : e->earned_us + s->validity_us;

    Crm__V1__Timestamp earned_at, available_at, expires_at;
    Crm__V1__Lot lot = CRM__V1__LOT__INIT;
    lot.customer_id = acc->customer_id;
    lot.number = acc->next_lot++;
    lot.points = e->points;
    lot.remaining = e->points;
    lot.pending = pending;
    lot.earned_at = loyalty_ts_set(&earned_at, e->earned_us);
    lot.available_at = loyalty_ts_set(&available_at, available_us);
    lot.expires_at = loyalty_ts_set(&expires_at, expires_us);
    lot.cause = (char *) (e->cause ? e->cause : "");
    lot.kind = e->kind;
    int rc = loyalty_lot_put(&ly->db, txn, &lot, s->warning_us);
    if (rc)
        return rc;

    Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
    entry.kind = e->entry_kind ? e->entry_kind : CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN;
    if (pending) {
        acc->pending += e->points;
        entry.pending_points = e->points;
    } else {
        acc->balance += e->points;
        entry.points = e->points;
    }
    if (entry.kind == CRM__V1__ENTRY_KIND__ENTRY_KIND_EARN)
        acc->lifetime_earned += e->points;
    else
        acc->lifetime_adjusted += e->points;
    entry.cause = lot.cause;
    entry.lot = lot.number;
    entry.n_parts = e->part_count;
    entry.parts = e->parts;
    entry.reason = (char *) (e->reason ? e->reason : "");
    entry.actor = (char *) (e->actor ? e->actor : "");
    entry.earn_kind = e->kind;
    rc = s_entry(ly, txn, acc, &entry, entry_out);
    if (rc == 0 && lot_out)
        *lot_out = lot.number;
    return rc;
}

/* --- Taking points from lots */

/* Takes points from one lot: at most want, its remaining points. Adds the draw and lowers the
 * account's balance or pending. Sets *took. Nothing happens to a pending lot unless
 * allow_pending. */
static int s_take_lot(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, uint64_t number,
                      int64_t want, bool allow_pending, loyalty_draws_t *draws, int64_t *took)
{
    *took = 0;
    Crm__V1__Lot *lot = NULL;
    int rc = loyalty_lot_get(&ly->db, txn, acc->customer_id, number, &lot);
    if (rc)
        return rc;
    if (lot->remaining <= 0 || (lot->pending && !allow_pending))
        goto out;
    int64_t take = lot->remaining < want ? lot->remaining : want;
    lot->remaining -= take;
    rc = loyalty_draws_add(draws, number, take, lot->pending);
    if (rc == 0)
        rc = loyalty_lot_put(&ly->db, txn, lot, ly->settings.warning_us);
    if (rc)
        goto out;
    if (lot->pending)
        acc->pending -= take;
    else
        acc->balance -= take;
    assert(acc->balance >= 0 && acc->pending >= 0);
    *took = take;
out:
    crm_codec_message_free((ProtobufCMessage **) &lot);
    return rc;
}

/* Lists the numbers of acc's open lots, oldest first, into *numbers_p (caller frees). */
static int s_open_lots(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, uint64_t **numbers_p,
                       size_t *count_p)
{
    *numbers_p = NULL;
    *count_p = 0;
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.open_lots, &cur);
    if (rc)
        return rc;
    uint64_t *numbers = NULL;
    size_t count = 0, cap = 0;
    crm_val_t k;
    for (rc = crm_cursor_seek(cur, customer_id, CRM_ID_LEN, &k, NULL); rc == 0;
         rc = crm_cursor_next(cur, &k, NULL)) {
        if (k.size != LOYALTY_LOT_KEY_LEN || memcmp(k.data, customer_id, CRM_ID_LEN) != 0)
            break;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : S_NUMBERS_FIRST_CAP;
            uint64_t *grown = realloc(numbers, ncap * sizeof *grown);
            if (!grown) {
                rc = CRM_ENOMEM;
                break;
            }
            numbers = grown;
            cap = ncap;
        }
        numbers[count++] = loyalty_key_u64_read((const uint8_t *) k.data + CRM_ID_LEN);
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc) {
        free(numbers);
        return rc;
    }
    *numbers_p = numbers;
    *count_p = count;
    return 0;
}

/* Takes up to need points: from lot first (0: none; pending points too), then from spendable
 * lots oldest first. Adds the draws; sets *taken_spendable and *taken_pending. */
static int s_take(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t need, uint64_t first,
                  loyalty_draws_t *draws, int64_t *taken_spendable, int64_t *taken_pending)
{
    *taken_spendable = 0;
    *taken_pending = 0;
    int rc = 0;
    int64_t took = 0;
    if (first) {
        rc = s_take_lot(ly, txn, acc, first, need, true, draws, &took);
        if (rc == CRM_ENOTFOUND)
            rc = 0;
        if (rc)
            return rc;
        if (took && draws->items[draws->count - 1].pending)
            *taken_pending += took;
        else
            *taken_spendable += took;
        need -= took;
    }
    if (need <= 0 || acc->balance == 0)
        return 0;
    uint64_t *numbers = NULL;
    size_t count = 0;
    rc = s_open_lots(ly, txn, acc->customer_id, &numbers, &count);
    for (size_t i = 0; rc == 0 && i < count && need > 0; i++) {
        if (numbers[i] == first)
            continue;
        rc = s_take_lot(ly, txn, acc, numbers[i], need, false, draws, &took);
        *taken_spendable += took;
        need -= took;
    }
    free(numbers);
    return rc;
}

int loyalty_ledger_redeem(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t points,
                          const char *cause, const char *redemption_id, loyalty_draws_t *draws,
                          uint64_t *entry_out)
{
    if (points <= 0 || points > LOYALTY_POINTS_MAX)
        return CRM_EINVALID;
    if (acc->balance < points)
        return CRM_ECONFLICT;
    int64_t spendable = 0, pending = 0;
    int rc = s_take(ly, txn, acc, points, 0, draws, &spendable, &pending);
    if (rc)
        return rc;
    assert(spendable == points && pending == 0);
    acc->lifetime_redeemed += points;
    Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
    entry.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM;
    entry.points = -points;
    entry.cause = (char *) (cause ? cause : "");
    entry.redemption_id = (char *) (redemption_id ? redemption_id : "");
    entry.n_draws = draws->count;
    entry.draws = draws->ptrs;
    return s_entry(ly, txn, acc, &entry, entry_out);
}

int loyalty_ledger_restore(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc,
                           const char *from_customer, Crm__V1__LotDraw *const *draws,
                           size_t draw_count, const char *cause, const char *redemption_id,
                           uint64_t *entry_out)
{
    bool same = strcmp(from_customer, acc->customer_id) == 0;
    loyalty_draws_t given = { 0 };
    int64_t total = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < draw_count; i++) {
        Crm__V1__Lot *lot = NULL;
        rc = loyalty_lot_get(&ly->db, txn, from_customer, draws[i]->lot, &lot);
        if (rc)
            break;
        int64_t points = draws[i]->points;
        if (same) {
            assert(lot->remaining + points <= lot->points && !lot->pending);
            lot->remaining += points;
            rc = loyalty_lot_put(&ly->db, txn, lot, ly->settings.warning_us);
            if (rc == 0)
                rc = loyalty_draws_add(&given, lot->number, points, false);
        } else {
            Crm__V1__Lot fresh = CRM__V1__LOT__INIT;
            char restore_cause[LOYALTY_CAUSE_MAX];
            snprintf(restore_cause, sizeof restore_cause, "restore:%s", redemption_id);
            fresh.customer_id = acc->customer_id;
            fresh.number = acc->next_lot++;
            fresh.points = points;
            fresh.remaining = points;
            fresh.earned_at = lot->earned_at;
            fresh.available_at = lot->available_at;
            fresh.expires_at = lot->expires_at;
            fresh.cause = restore_cause;
            fresh.kind = CRM__V1__EARN_KIND__EARN_KIND_MERGE;
            fresh.warned = lot->warned;
            rc = loyalty_lot_put(&ly->db, txn, &fresh, ly->settings.warning_us);
            if (rc == 0)
                rc = loyalty_draws_add(&given, fresh.number, points, false);
        }
        total += points;
        crm_codec_message_free((ProtobufCMessage **) &lot);
    }
    if (rc == 0) {
        acc->balance += total;
        if (same)
            acc->lifetime_redeemed -= total;
        else
            acc->lifetime_adjusted += total;   /* redeemed by the merged account, given here */
        Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
        entry.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_REDEEM_CANCEL;
        entry.points = total;
        entry.cause = (char *) (cause ? cause : "");
        entry.redemption_id = (char *) (redemption_id ? redemption_id : "");
        entry.n_draws = given.count;
        entry.draws = given.ptrs;
        rc = s_entry(ly, txn, acc, &entry, entry_out);
    }
    loyalty_draws_clear(&given);
    return rc;
}

int loyalty_ledger_reverse(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t points,
                           uint64_t lot, const char *cause, uint64_t *entry_out,
                           int64_t *shortfall_out)
{
    if (shortfall_out)
        *shortfall_out = 0;
    if (points <= 0)
        return 0;
    loyalty_draws_t draws = { 0 };
    int64_t spendable = 0, pending = 0;
    int rc = s_take(ly, txn, acc, points, lot, &draws, &spendable, &pending);
    if (rc == 0) {
        int64_t shortfall = points - spendable - pending;
        assert(shortfall >= 0);
        acc->lifetime_reversed += spendable + pending;
        acc->shortfall += shortfall;
        Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
        entry.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_REVERSE;
        entry.points = -spendable;
        entry.pending_points = -pending;
        entry.shortfall = shortfall;
        entry.cause = (char *) (cause ? cause : "");
        entry.lot = lot;
        entry.n_draws = draws.count;
        entry.draws = draws.ptrs;
        rc = s_entry(ly, txn, acc, &entry, entry_out);
        if (rc == 0 && shortfall_out)
            *shortfall_out = shortfall;
    }
    loyalty_draws_clear(&draws);
    return rc;
}

int loyalty_ledger_adjust(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, int64_t points,
                          const char *reason, const char *actor, const char *cause,
                          int64_t expires_us, uint64_t *entry_out)
{
    if (points == 0 || points > LOYALTY_POINTS_MAX || points < -LOYALTY_POINTS_MAX || acc->closed)
        return CRM_EINVALID;
    if (points > 0) {
        loyalty_earn_t e = {
            .kind = CRM__V1__EARN_KIND__EARN_KIND_ADJUSTMENT, .cause = cause, .points = points,
            .earned_us = loyalty_now(ly), .expires_us = expires_us, .reason = reason,
            .actor = actor, .entry_kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_ADJUST,
        };
        return loyalty_ledger_earn(ly, txn, acc, &e, NULL, entry_out);
    }
    int64_t take = -points;
    if (acc->balance < take)
        return CRM_ECONFLICT;
    loyalty_draws_t draws = { 0 };
    int64_t spendable = 0, pending = 0;
    int rc = s_take(ly, txn, acc, take, 0, &draws, &spendable, &pending);
    if (rc == 0) {
        assert(spendable == take && pending == 0);
        acc->lifetime_adjusted -= take;
        Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
        entry.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_ADJUST;
        entry.points = -take;
        entry.cause = (char *) (cause ? cause : "");
        entry.reason = (char *) (reason ? reason : "");
        entry.actor = (char *) (actor ? actor : "");
        entry.n_draws = draws.count;
        entry.draws = draws.ptrs;
        rc = s_entry(ly, txn, acc, &entry, entry_out);
    }
    loyalty_draws_clear(&draws);
    return rc;
}

int loyalty_ledger_release(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, uint64_t number)
{
    Crm__V1__Lot *lot = NULL;
    int rc = loyalty_lot_get(&ly->db, txn, acc->customer_id, number, &lot);
    if (rc)
        return rc;
    if (!lot->pending || lot->remaining <= 0)
        goto out;
    int64_t points = lot->remaining;
    lot->pending = false;
    rc = loyalty_lot_put(&ly->db, txn, lot, ly->settings.warning_us);
    if (rc)
        goto out;
    acc->pending -= points;
    acc->balance += points;
    Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
    entry.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_RELEASE;
    entry.points = points;
    entry.pending_points = -points;
    entry.cause = lot->cause;
    entry.lot = number;
    rc = s_entry(ly, txn, acc, &entry, NULL);
out:
    crm_codec_message_free((ProtobufCMessage **) &lot);
    return rc;
}

int loyalty_ledger_expire(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, uint64_t number)
{
    Crm__V1__Lot *lot = NULL;
    int rc = loyalty_lot_get(&ly->db, txn, acc->customer_id, number, &lot);
    if (rc)
        return rc;
    if (lot->remaining <= 0)
        goto out;
    int64_t points = lot->remaining;
    bool pending = lot->pending;
    lot->remaining = 0;
    rc = loyalty_lot_put(&ly->db, txn, lot, ly->settings.warning_us);
    if (rc)
        goto out;
    Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
    entry.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_EXPIRE;
    if (pending) {
        acc->pending -= points;
        entry.pending_points = -points;
    } else {
        acc->balance -= points;
        entry.points = -points;
    }
    acc->lifetime_expired += points;
    Crm__V1__LotDraw draw = CRM__V1__LOT_DRAW__INIT;
    Crm__V1__LotDraw *draw_p = &draw;
    draw.lot = number;
    draw.points = points;
    draw.pending = pending;
    entry.n_draws = 1;
    entry.draws = &draw_p;
    entry.cause = lot->cause;
    entry.lot = number;
    rc = s_entry(ly, txn, acc, &entry, NULL);
out:
    crm_codec_message_free((ProtobufCMessage **) &lot);
    return rc;
}

/* Points the cause of a moved lot at its new place, when it named the old one. */
static int s_cause_follow(loyalty_t *ly, crm_txn_t *txn, const char *cause, const char *from_id,
                          uint64_t from_lot, const char *to_id, uint64_t to_lot)
{
    if (!cause || !*cause)
        return 0;
    Crm__V1__CauseRecord *rec = NULL;
    int rc = loyalty_cause_get(&ly->db, txn, cause, &rec);
    if (rc == CRM_ENOTFOUND || rc == CRM_EINVALID)
        return 0;
    if (rc)
        return rc;
    if (strcmp(rec->customer_id, from_id) == 0 && rec->lot == from_lot) {
        Crm__V1__CauseRecord moved = *rec;
        moved.customer_id = (char *) to_id;
        moved.lot = to_lot;
        rc = loyalty_cause_put(&ly->db, txn, cause, &moved);
    }
    crm_codec_message_free((ProtobufCMessage **) &rec);
    return rc;
}

int loyalty_ledger_merge(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *to,
                         loyalty_account_t *from, const char *cause)
{
    uint64_t *numbers = NULL;
    size_t count = 0;
    loyalty_draws_t out_draws = { 0 }, in_draws = { 0 };
    int64_t moved_spendable = 0, moved_pending = 0;
    int rc = s_open_lots(ly, txn, from->customer_id, &numbers, &count);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        Crm__V1__Lot *lot = NULL;
        rc = loyalty_lot_get(&ly->db, txn, from->customer_id, numbers[i], &lot);
        if (rc)
            break;
        int64_t points = lot->remaining;
        Crm__V1__Lot fresh = *lot;
        fresh.customer_id = to->customer_id;
        fresh.number = to->next_lot++;
        fresh.points = points;
        rc = loyalty_lot_put(&ly->db, txn, &fresh, ly->settings.warning_us);
        if (rc == 0) {
            lot->remaining = 0;
            rc = loyalty_lot_put(&ly->db, txn, lot, ly->settings.warning_us);
        }
        if (rc == 0)
            rc = loyalty_draws_add(&out_draws, lot->number, points, lot->pending);
        if (rc == 0)
            rc = loyalty_draws_add(&in_draws, fresh.number, points, lot->pending);
        if (rc == 0)
            rc = s_cause_follow(ly, txn, lot->cause, from->customer_id, lot->number,
                                to->customer_id, fresh.number);
        if (lot->pending)
            moved_pending += points;
        else
            moved_spendable += points;
        crm_codec_message_free((ProtobufCMessage **) &lot);
    }
    free(numbers);
    if (rc == 0) {
        assert(moved_spendable == from->balance && moved_pending == from->pending);
        from->balance = 0;
        from->pending = 0;
        from->lifetime_adjusted -= moved_spendable + moved_pending;
        from->closed = true;
        snprintf(from->merged_into, sizeof from->merged_into, "%s", to->customer_id);
        Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
        entry.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_MERGE_OUT;
        entry.points = -moved_spendable;
        entry.pending_points = -moved_pending;
        entry.cause = (char *) cause;
        entry.reason = to->customer_id;
        entry.n_draws = out_draws.count;
        entry.draws = out_draws.ptrs;
        rc = s_entry(ly, txn, from, &entry, NULL);
    }
    if (rc == 0) {
        to->balance += moved_spendable;
        to->pending += moved_pending;
        to->lifetime_adjusted += moved_spendable + moved_pending;
        Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
        entry.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_MERGE_IN;
        entry.points = moved_spendable;
        entry.pending_points = moved_pending;
        entry.cause = (char *) cause;
        entry.reason = from->customer_id;
        entry.n_draws = in_draws.count;
        entry.draws = in_draws.ptrs;
        rc = s_entry(ly, txn, to, &entry, NULL);
    }
    loyalty_draws_clear(&out_draws);
    loyalty_draws_clear(&in_draws);
    return rc;
}

int loyalty_ledger_close(loyalty_t *ly, crm_txn_t *txn, loyalty_account_t *acc, const char *cause)
{
    uint64_t *numbers = NULL;
    size_t count = 0;
    loyalty_draws_t draws = { 0 };
    int64_t spendable = 0, pending = 0;
    int rc = s_open_lots(ly, txn, acc->customer_id, &numbers, &count);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        int64_t took = 0;
        rc = s_take_lot(ly, txn, acc, numbers[i], LOYALTY_POINTS_MAX * 4, true, &draws, &took);
        if (rc == 0 && took) {
            if (draws.items[draws.count - 1].pending)
                pending += took;
            else
                spendable += took;
        }
    }
    free(numbers);
    if (rc == 0) {
        assert(acc->balance == 0 && acc->pending == 0);
        acc->lifetime_adjusted -= spendable + pending;
        acc->closed = true;
        Crm__V1__LedgerEntry entry = CRM__V1__LEDGER_ENTRY__INIT;
        entry.kind = CRM__V1__ENTRY_KIND__ENTRY_KIND_CLOSE;
        entry.points = -spendable;
        entry.pending_points = -pending;
        entry.cause = (char *) cause;
        entry.n_draws = draws.count;
        entry.draws = draws.ptrs;
        rc = s_entry(ly, txn, acc, &entry, NULL);
    }
    loyalty_draws_clear(&draws);
    return rc;
}

/* --- Invariants */

static int s_bad(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int s_bad(char *why, size_t why_size, const char *fmt, ...)
{
    if (why && why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return CRM_EINVALID;
}

/* True when key is in db. */
static int s_has(crm_txn_t *txn, crm_db_t db, const void *key, size_t len, bool *has)
{
    crm_val_t v;
    int rc = crm_store_get(txn, db, key, len, &v);
    *has = rc == 0;
    return rc == CRM_ENOTFOUND ? 0 : rc;
}

/* Sums the entries of a customer, checking their numbering and running totals. */
static int s_check_entries(loyalty_t *ly, crm_txn_t *txn, const loyalty_account_t *acc, char *why,
                           size_t why_size)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.entries, &cur);
    if (rc)
        return rc;
    int64_t points = 0, pending = 0;
    uint64_t expect = 1;
    crm_val_t k, v;
    for (rc = crm_cursor_seek(cur, acc->customer_id, CRM_ID_LEN, &k, &v); rc == 0;
         rc = crm_cursor_next(cur, &k, &v)) {
        if (k.size != LOYALTY_LOT_KEY_LEN || memcmp(k.data, acc->customer_id, CRM_ID_LEN) != 0)
            break;
        Crm__V1__LedgerEntry *e = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__ledger_entry__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &e, NULL);
        if (rc)
            break;
        points += e->points;
        pending += e->pending_points;
        uint64_t seq = e->seq;
        bool totals = e->balance_after == points && e->pending_after == pending;
        crm_codec_message_free((ProtobufCMessage **) &e);
        if (seq != expect) {
            rc = s_bad(why, why_size, "entry %llu where %llu was expected", (unsigned long long) seq,
                       (unsigned long long) expect);
            break;
        }
        if (!totals || points < 0 || pending < 0) {
            rc = s_bad(why, why_size, "entry %llu: running totals wrong or negative",
                       (unsigned long long) seq);
            break;
        }
        expect++;
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc)
        return rc;
    if (expect != acc->next_entry)
        return s_bad(why, why_size, "%llu entries, next entry %llu", (unsigned long long) (expect - 1),
                     (unsigned long long) acc->next_entry);
    if (points != acc->balance || pending != acc->pending)
        return s_bad(why, why_size, "entries sum to %lld + %lld pending, account says %lld + %lld",
                     (long long) points, (long long) pending, (long long) acc->balance,
                     (long long) acc->pending);
    return 0;
}

/* Sums the lots of a customer, checking their indexes. */
static int s_check_lots(loyalty_t *ly, crm_txn_t *txn, const loyalty_account_t *acc, char *why,
                        size_t why_size)
{
    crm_cursor_t *cur = NULL;
    int rc = crm_cursor_open(txn, ly->db.lots, &cur);
    if (rc)
        return rc;
    int64_t spendable = 0, pending = 0;
    uint64_t lots = 0, open = 0;
    crm_val_t k, v;
    for (rc = crm_cursor_seek(cur, acc->customer_id, CRM_ID_LEN, &k, &v); rc == 0;
         rc = crm_cursor_next(cur, &k, &v)) {
        if (k.size != LOYALTY_LOT_KEY_LEN || memcmp(k.data, acc->customer_id, CRM_ID_LEN) != 0)
            break;
        Crm__V1__Lot *lot = NULL;
        rc = crm_codec_msgpack_decode(&crm__v1__lot__descriptor, v.data, v.size,
                                      (ProtobufCMessage **) &lot, NULL);
        if (rc)
            break;
        lots++;
        bool in_open = false, in_expiry = false, in_pending = false;
        uint8_t ix[LOYALTY_INDEX_KEY_LEN];
        rc = s_has(txn, ly->db.open_lots, k.data, k.size, &in_open);
        if (rc == 0) {
            loyalty_key_index(ix, loyalty_ts_us(lot->expires_at), acc->customer_id, lot->number);
            rc = s_has(txn, ly->db.lot_expiry, ix, sizeof ix, &in_expiry);
        }
        if (rc == 0) {
            loyalty_key_index(ix, loyalty_ts_us(lot->available_at), acc->customer_id, lot->number);
            rc = s_has(txn, ly->db.lot_pending, ix, sizeof ix, &in_pending);
        }
        bool has_points = lot->remaining > 0;
        bool ok = lot->remaining >= 0 && lot->remaining <= lot->points && in_open == has_points
                  && in_expiry == has_points && in_pending == (has_points && lot->pending);
        uint64_t number = lot->number;
        if (lot->pending)
            pending += lot->remaining;
        else
            spendable += lot->remaining;
        open += has_points;
        crm_codec_message_free((ProtobufCMessage **) &lot);
        if (rc)
            break;
        if (!ok) {
            rc = s_bad(why, why_size, "lot %llu: points or indexes wrong", (unsigned long long) number);
            break;
        }
    }
    crm_cursor_close(&cur);
    if (rc == CRM_ENOTFOUND)
        rc = 0;
    if (rc)
        return rc;
    if (lots + 1 != acc->next_lot)
        return s_bad(why, why_size, "%llu lots, next lot %llu", (unsigned long long) lots,
                     (unsigned long long) acc->next_lot);
    if (spendable != acc->balance || pending != acc->pending)
        return s_bad(why, why_size, "lots hold %lld + %lld pending, account says %lld + %lld",
                     (long long) spendable, (long long) pending, (long long) acc->balance,
                     (long long) acc->pending);
    uint64_t *numbers = NULL;
    size_t count = 0;
    rc = s_open_lots(ly, txn, acc->customer_id, &numbers, &count);
    free(numbers);
    if (rc == 0 && count != open)
        return s_bad(why, why_size, "%zu open lots indexed, %llu have points", count,
                     (unsigned long long) open);
    return rc;
}

int loyalty_ledger_check(loyalty_t *ly, crm_txn_t *txn, const char *customer_id, char *why,
                         size_t why_size)
{
    if (why && why_size)
        why[0] = '\0';
    loyalty_account_t acc;
    int rc = loyalty_account_get(&ly->db, txn, customer_id, &acc);
    if (rc)
        return rc;
    if (acc.balance < 0 || acc.pending < 0)
        return s_bad(why, why_size, "negative balance");
    if (acc.lifetime_earned - acc.lifetime_redeemed - acc.lifetime_expired - acc.lifetime_reversed
            + acc.lifetime_adjusted != acc.balance + acc.pending)
        return s_bad(why, why_size, "lifetime totals do not add up to the balances");
    rc = s_check_entries(ly, txn, &acc, why, why_size);
    if (rc == 0)
        rc = s_check_lots(ly, txn, &acc, why, why_size);
    return rc;
}
