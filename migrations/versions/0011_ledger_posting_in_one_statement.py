"""ledger posting in one statement; transfers record their write order per account

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 20:00:00

Transfers get debit_version / credit_version (the account's version after the row's last
write) and written_at (the moment of that write), indexed per account, so that a statement
reads running balances in write order and a balance as of a time is one index lookup (see
ledger.models.Transfer and ledger.statements). Rows already in the book get versions numbered
per account in the order of their last write (resolution, else recording), and each account's
version is raised to at least that count so that new writes come after them.

On PostgreSQL the migration also installs ledger_post() and ledger_post_journal(), which post
a journal in one statement (see ledger.pg_posting).
"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Each side's version: the row's place among the account's writes (debit and credit legs alike).
_NUMBER_SIDE = """
    UPDATE ledger_transfers SET {side}_version = numbered.n
    FROM (SELECT id, account_id, is_debit, row_number() OVER (
              PARTITION BY account_id ORDER BY written_at, id) AS n
          FROM (SELECT id, debit_account_id AS account_id, 1 AS is_debit, written_at
                FROM ledger_transfers
                UNION ALL
                SELECT id, credit_account_id, 0, written_at FROM ledger_transfers) AS legs
         ) AS numbered
    WHERE numbered.id = ledger_transfers.id AND numbered.is_debit = {is_debit}
    """
BACKFILL = [
    "UPDATE ledger_transfers SET written_at = COALESCE(resolved_at, recorded_at)",
    _NUMBER_SIDE.format(side="debit", is_debit=1),
    _NUMBER_SIDE.format(side="credit", is_debit=0),
    """
    UPDATE ledger_accounts SET version = (
        SELECT CASE WHEN count(*) > ledger_accounts.version THEN count(*)
                    ELSE ledger_accounts.version END
        FROM ledger_transfers AS t
        WHERE t.debit_account_id = ledger_accounts.id OR t.credit_account_id = ledger_accounts.id)
    """,
]


def upgrade():
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('debit_version', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('credit_version', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('written_at', ledger.base.UTCDateTime(timezone=True), nullable=True))
    for statement in BACKFILL:
        op.execute(statement)
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.alter_column('debit_version', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('credit_version', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('written_at', existing_type=ledger.base.UTCDateTime(timezone=True), nullable=False)
        batch_op.drop_index('ix_ledger_transfers_debit_account')
        batch_op.drop_index('ix_ledger_transfers_credit_account')
        batch_op.create_index('ix_ledger_transfers_debit_version', ['debit_account_id', 'debit_version', 'id'], unique=False)
        batch_op.create_index('ix_ledger_transfers_credit_version', ['credit_account_id', 'credit_version', 'id'], unique=False)
        batch_op.create_index('ix_ledger_transfers_debit_written_at', ['debit_account_id', 'written_at', 'id'], unique=False)
        batch_op.create_index('ix_ledger_transfers_credit_written_at', ['credit_account_id', 'written_at', 'id'], unique=False)
    if op.get_context().dialect.name == "postgresql":
        op.execute(FUNCTIONS)


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute(DROP_FUNCTIONS)
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_transfers_credit_written_at')
        batch_op.drop_index('ix_ledger_transfers_debit_written_at')
        batch_op.drop_index('ix_ledger_transfers_credit_version')
        batch_op.drop_index('ix_ledger_transfers_debit_version')
        batch_op.create_index('ix_ledger_transfers_credit_account', ['credit_account_id', 'id'], unique=False)
        batch_op.create_index('ix_ledger_transfers_debit_account', ['debit_account_id', 'id'], unique=False)
        batch_op.drop_column('written_at')
        batch_op.drop_column('credit_version')
        batch_op.drop_column('debit_version')


# ledger_post(): one transfer as a journal of its own, in one statement. It locks the two
# accounts in id order, refuses what ledger.posting refuses on the locked rows (it returns the
# refusal, so the caller's transaction stays usable, as with the generic path), writes the
# journal (ON CONFLICT on its key: a replay), the transfer with its balances after, versions and
# write moment, and the counters. Constraint violations raise, named, as any write's would.
# o_refusal: 'account' (o_ref is the missing id), 'currency', 'funds' (o_code_a, o_available,
# o_currency_a), 'replay' (the journal key is taken: the caller reads what was posted).
POST_ONE = """
CREATE OR REPLACE FUNCTION ledger_post(
    p_key varchar, p_payload_sha256 varchar, p_description text, p_recorded_by varchar,
    p_recorded_at timestamptz, p_effective_at timestamptz, p_transfer_key varchar,
    p_debit bigint, p_credit bigint, p_amount bigint, p_code varchar, p_reference varchar,
    p_pending boolean, p_reverses bigint,
    OUT o_journal_id bigint, OUT o_transfer_id bigint, OUT o_refusal text, OUT o_ref bigint,
    OUT o_code_a text, OUT o_currency_a text, OUT o_code_b text, OUT o_currency_b text,
    OUT o_available bigint)
LANGUAGE plpgsql AS $$
DECLARE
  d ledger_accounts%ROWTYPE;
  c ledger_accounts%ROWTYPE;
  v_posted bigint := CASE WHEN p_pending THEN 0 ELSE p_amount END;
  v_reserved bigint := CASE WHEN p_pending THEN p_amount ELSE 0 END;
  v_debit_broken boolean;
  v_credit_broken boolean;
BEGIN
  IF p_debit < p_credit THEN
    SELECT * INTO d FROM ledger_accounts WHERE id = p_debit FOR UPDATE;
    IF NOT FOUND THEN o_refusal := 'account'; o_ref := p_debit; RETURN; END IF;
    SELECT * INTO c FROM ledger_accounts WHERE id = p_credit FOR UPDATE;
    IF NOT FOUND THEN o_refusal := 'account'; o_ref := p_credit; RETURN; END IF;
  ELSE
    SELECT * INTO c FROM ledger_accounts WHERE id = p_credit FOR UPDATE;
    IF NOT FOUND THEN o_refusal := 'account'; o_ref := p_credit; RETURN; END IF;
    SELECT * INTO d FROM ledger_accounts WHERE id = p_debit FOR UPDATE;
    IF NOT FOUND THEN o_refusal := 'account'; o_ref := p_debit; RETURN; END IF;
  END IF;
  IF d.currency <> c.currency THEN
    o_refusal := 'currency';
    o_code_a := d.code; o_currency_a := d.currency; o_code_b := c.code; o_currency_b := c.currency;
    RETURN;
  END IF;
  -- A debit can only break the debit account's rule, a credit the credit account's.
  v_debit_broken := d.debits_must_not_exceed_credits
    AND d.debits_posted + v_posted + d.debits_pending + v_reserved > d.credits_posted;
  v_credit_broken := c.credits_must_not_exceed_debits
    AND c.credits_posted + v_posted + c.credits_pending + v_reserved > c.debits_posted;
  IF v_debit_broken OR v_credit_broken THEN
    IF EXISTS (SELECT FROM ledger_journals WHERE key = p_key) THEN
      o_refusal := 'replay';
    ELSIF v_debit_broken AND (d.id < c.id OR NOT v_credit_broken) THEN
      o_refusal := 'funds'; o_code_a := d.code; o_currency_a := d.currency;
      o_available := d.credits_posted - d.debits_posted - d.debits_pending;
    ELSE
      o_refusal := 'funds'; o_code_a := c.code; o_currency_a := c.currency;
      o_available := c.debits_posted - c.credits_posted - c.credits_pending;
    END IF;
    RETURN;
  END IF;
  INSERT INTO ledger_journals AS j (key, payload_sha256, description, recorded_by, recorded_at)
  VALUES (p_key, p_payload_sha256, p_description, p_recorded_by, p_recorded_at)
  ON CONFLICT (key) DO NOTHING
  RETURNING j.id INTO o_journal_id;
  IF o_journal_id IS NULL THEN o_refusal := 'replay'; RETURN; END IF;
  INSERT INTO ledger_transfers AS t (
      journal_id, key, debit_account_id, credit_account_id, currency, amount, code, reference,
      status, two_phase, reverses_id, recorded_by, effective_at, recorded_at, posted_at,
      resolved_at, debit_balance_after, credit_balance_after, debit_version, credit_version,
      written_at)
  VALUES (
      o_journal_id, p_transfer_key, p_debit, p_credit, d.currency, p_amount, p_code, p_reference,
      CASE WHEN p_pending THEN 'pending' ELSE 'posted' END, p_pending, p_reverses, p_recorded_by,
      p_effective_at, p_recorded_at, CASE WHEN p_pending THEN NULL ELSE p_effective_at END, NULL,
      d.debits_posted + v_posted - d.credits_posted, c.debits_posted - c.credits_posted - v_posted,
      d.version + 1, c.version + 1, clock_timestamp())
  RETURNING t.id INTO o_transfer_id;
  UPDATE ledger_accounts SET debits_posted = d.debits_posted + v_posted,
      debits_pending = d.debits_pending + v_reserved, version = d.version + 1
  WHERE id = d.id;
  UPDATE ledger_accounts SET credits_posted = c.credits_posted + v_posted,
      credits_pending = c.credits_pending + v_reserved, version = c.version + 1
  WHERE id = c.id;
END
$$;
"""

# ledger_post_journal(): any number of transfers, given as one array per column, set-based and
# without joins whose plan could go quadratic on a large journal: the per-account totals are
# summed once; the accounts are locked and read in id order into arrays; the rules are checked
# on the totals (as ledger.posting does after applying the whole journal); a window sum per
# account in batch order, seeded by a row per account holding its balance before, gives each
# transfer its balances after; the transfers are inserted from the arrays zipped together (ids
# rise in batch order); the counters are updated in one UPDATE. Returns one row per transfer id
# in batch order, or one row with the refusal (as ledger_post).
POST_JOURNAL = """
CREATE OR REPLACE FUNCTION ledger_post_journal(
    p_key varchar, p_payload_sha256 varchar, p_description text, p_recorded_by varchar,
    p_recorded_at timestamptz, p_effective_at timestamptz, p_keys varchar[], p_debits bigint[],
    p_credits bigint[], p_amounts bigint[], p_codes varchar[], p_references varchar[],
    p_pending boolean[], p_reverses bigint[])
RETURNS TABLE (o_journal_id bigint, o_transfer_ids text, o_refusal text, o_ref bigint,
    o_code_a text, o_currency_a text, o_code_b text, o_currency_b text, o_available bigint)
LANGUAGE plpgsql SET work_mem = '64MB' AS $$
DECLARE
  v_ids bigint[]; v_dp bigint[]; v_cp bigint[]; v_dpend bigint[]; v_cpend bigint[];
  a_ids bigint[]; a_code text[]; a_currency text[]; a_dposted bigint[]; a_cposted bigint[];
  a_dpending bigint[]; a_cpending bigint[]; a_version bigint[]; a_drule boolean[];
  a_crule boolean[];
  t_dafter bigint[]; t_cafter bigint[]; t_dversion bigint[]; t_cversion bigint[];
  t_dcurrency text[]; t_ccurrency text[];
  v_journal bigint; v_moment timestamptz; v_transfers bigint[]; v_n bigint; r record;
BEGIN
  SELECT array_agg(s.id), array_agg(s.dp), array_agg(s.cp), array_agg(s.dpend),
         array_agg(s.cpend)
  INTO v_ids, v_dp, v_cp, v_dpend, v_cpend
  FROM (SELECT legs.id, sum(legs.dp)::bigint AS dp, sum(legs.cp)::bigint AS cp,
               sum(legs.dpend)::bigint AS dpend, sum(legs.cpend)::bigint AS cpend
        FROM (SELECT l.debit AS id, CASE WHEN l.pending THEN 0 ELSE l.amount END AS dp,
                     0::bigint AS cp, CASE WHEN l.pending THEN l.amount ELSE 0 END AS dpend,
                     0::bigint AS cpend
              FROM unnest(p_debits, p_amounts, p_pending) AS l(debit, amount, pending)
              UNION ALL
              SELECT l.credit, 0, CASE WHEN l.pending THEN 0 ELSE l.amount END, 0,
                     CASE WHEN l.pending THEN l.amount ELSE 0 END
              FROM unnest(p_credits, p_amounts, p_pending) AS l(credit, amount, pending)
             ) AS legs
        GROUP BY legs.id
        ORDER BY legs.id) AS s;

  SELECT array_agg(a.id), array_agg(a.code), array_agg(a.currency), array_agg(a.debits_posted),
         array_agg(a.credits_posted), array_agg(a.debits_pending), array_agg(a.credits_pending),
         array_agg(a.version), array_agg(a.debits_must_not_exceed_credits),
         array_agg(a.credits_must_not_exceed_debits)
  INTO a_ids, a_code, a_currency, a_dposted, a_cposted, a_dpending, a_cpending, a_version,
       a_drule, a_crule
  -- Joined to the ids, never filtered by `id = ANY (v_ids)`: accounts opened earlier in the
  -- same transaction have no statistics yet, and a sequential scan testing each row against
  -- a 100,000-element array is quadratic (30 s for one value report among 100,000).
  FROM (SELECT l.* FROM ledger_accounts AS l JOIN unnest(v_ids) AS w(id) ON l.id = w.id
        ORDER BY l.id FOR UPDATE OF l) AS a;
  IF coalesce(cardinality(a_ids), 0) < cardinality(v_ids) THEN
    RETURN QUERY SELECT NULL::bigint, NULL::text, 'account'::text, min(x.id), NULL::text,
        NULL::text, NULL::text, NULL::text, NULL::bigint
      FROM (SELECT unnest(v_ids) EXCEPT SELECT unnest(a_ids)) AS x(id);
    RETURN;
  END IF;

  -- Per transfer, in batch order: balances after, versions after and currencies of both sides.
  SELECT array_agg(x.d_after), array_agg(x.c_after), array_agg(x.d_version),
         array_agg(x.c_version), array_agg(x.d_currency), array_agg(x.c_currency)
  INTO t_dafter, t_cafter, t_dversion, t_cversion, t_dcurrency, t_ccurrency
  FROM (SELECT w.n, max(w.after) FILTER (WHERE w.side = 1) AS d_after,
               max(w.after) FILTER (WHERE w.side = 2) AS c_after,
               max(w.version) FILTER (WHERE w.side = 1) AS d_version,
               max(w.version) FILTER (WHERE w.side = 2) AS c_version,
               max(w.currency) FILTER (WHERE w.side = 1) AS d_currency,
               max(w.currency) FILTER (WHERE w.side = 2) AS c_currency
        FROM (SELECT l.n, l.side,
                     sum(l.moved) OVER (PARTITION BY l.id ORDER BY l.n)::bigint AS after,
                     first_value(l.version) OVER (PARTITION BY l.id ORDER BY l.n) AS version,
                     first_value(l.currency) OVER (PARTITION BY l.id ORDER BY l.n) AS currency
              FROM (SELECT 0::bigint AS n, 0 AS side, b.id, b.dposted - b.cposted AS moved,
                           b.version + 1 AS version, b.currency
                    FROM unnest(a_ids, a_dposted, a_cposted, a_version, a_currency)
                         AS b(id, dposted, cposted, version, currency)
                    UNION ALL
                    SELECT t.n, 1, t.debit, CASE WHEN t.pending THEN 0 ELSE t.amount END,
                           NULL::bigint, NULL::text
                    FROM unnest(p_debits, p_amounts, p_pending) WITH ORDINALITY
                         AS t(debit, amount, pending, n)
                    UNION ALL
                    SELECT t.n, 2, t.credit, CASE WHEN t.pending THEN 0 ELSE -t.amount END,
                           NULL::bigint, NULL::text
                    FROM unnest(p_credits, p_amounts, p_pending) WITH ORDINALITY
                         AS t(credit, amount, pending, n)
                   ) AS l
             ) AS w
        WHERE w.side > 0
        GROUP BY w.n
        ORDER BY w.n) AS x;

  IF (SELECT count(DISTINCT c) FROM unnest(a_currency) AS c) > 1 THEN
    SELECT u.n INTO v_n
    FROM unnest(t_dcurrency, t_ccurrency) WITH ORDINALITY AS u(d, c, n)
    WHERE u.d <> u.c ORDER BY u.n LIMIT 1;
    IF FOUND THEN
      RETURN QUERY SELECT NULL::bigint, NULL::text, 'currency'::text, NULL::bigint,
          a_code[array_position(a_ids, p_debits[v_n])], t_dcurrency[v_n],
          a_code[array_position(a_ids, p_credits[v_n])], t_ccurrency[v_n], NULL::bigint;
      RETURN;
    END IF;
  END IF;

  SELECT s.code, s.currency,
         CASE WHEN s.drule THEN s.cposted - s.dposted - s.dpending
              ELSE s.dposted - s.cposted - s.cpending END AS available
  INTO r
  FROM unnest(a_ids, a_code, a_currency, a_dposted, a_cposted, a_dpending, a_cpending, a_drule,
              a_crule, v_dp, v_cp, v_dpend, v_cpend)
       AS s(id, code, currency, dposted, cposted, dpending, cpending, drule, crule, dp, cp,
            dpend, cpend)
  WHERE (s.drule AND s.dposted + s.dp + s.dpending + s.dpend > s.cposted + s.cp)
     OR (s.crule AND s.cposted + s.cp + s.cpending + s.cpend > s.dposted + s.dp)
  ORDER BY s.id LIMIT 1;
  IF FOUND THEN
    IF EXISTS (SELECT FROM ledger_journals AS j WHERE j.key = p_key) THEN
      RETURN QUERY SELECT NULL::bigint, NULL::text, 'replay'::text, NULL::bigint, NULL::text,
          NULL::text, NULL::text, NULL::text, NULL::bigint;
    ELSE
      RETURN QUERY SELECT NULL::bigint, NULL::text, 'funds'::text, NULL::bigint,
          r.code::text, r.currency::text, NULL::text, NULL::text, r.available::bigint;
    END IF;
    RETURN;
  END IF;

  INSERT INTO ledger_journals AS j (key, payload_sha256, description, recorded_by, recorded_at)
  VALUES (p_key, p_payload_sha256, p_description, p_recorded_by, p_recorded_at)
  ON CONFLICT (key) DO NOTHING
  RETURNING j.id INTO v_journal;
  IF v_journal IS NULL THEN
    RETURN QUERY SELECT NULL::bigint, NULL::text, 'replay'::text, NULL::bigint, NULL::text,
        NULL::text, NULL::text, NULL::text, NULL::bigint;
    RETURN;
  END IF;

  v_moment := clock_timestamp();
  WITH written AS (
    INSERT INTO ledger_transfers (
        journal_id, key, debit_account_id, credit_account_id, currency, amount, code,
        reference, status, two_phase, reverses_id, recorded_by, effective_at, recorded_at,
        posted_at, resolved_at, debit_balance_after, credit_balance_after, debit_version,
        credit_version, written_at)
    SELECT v_journal, t.key, t.debit, t.credit, t.currency, t.amount, t.code, t.reference,
        CASE WHEN t.pending THEN 'pending' ELSE 'posted' END, t.pending, t.reverses,
        p_recorded_by, p_effective_at, p_recorded_at,
        CASE WHEN t.pending THEN NULL ELSE p_effective_at END, NULL, t.d_after, t.c_after,
        t.d_version, t.c_version, v_moment
    FROM unnest(p_keys, p_debits, p_credits, p_amounts, p_codes, p_references, p_pending,
                p_reverses, t_dafter, t_cafter, t_dversion, t_cversion, t_dcurrency)
         AS t(key, debit, credit, amount, code, reference, pending, reverses, d_after, c_after,
              d_version, c_version, currency)
    RETURNING ledger_transfers.id
  )
  SELECT array_agg(written.id ORDER BY written.id) INTO v_transfers FROM written;

  UPDATE ledger_accounts AS a
  SET debits_posted = a.debits_posted + s.dp, credits_posted = a.credits_posted + s.cp,
      debits_pending = a.debits_pending + s.dpend, credits_pending = a.credits_pending + s.cpend,
      version = a.version + 1
  FROM unnest(v_ids, v_dp, v_cp, v_dpend, v_cpend) AS s(id, dp, cp, dpend, cpend)
  WHERE a.id = s.id;  -- a join, not `= ANY (v_ids)`: see the lock above

  RETURN QUERY SELECT v_journal, array_to_string(v_transfers, ','), NULL::text, NULL::bigint,
      NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint;
END
$$;
"""

FUNCTIONS = POST_ONE + POST_JOURNAL
DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS ledger_post_journal(varchar, varchar, text, varchar, timestamptz,
    timestamptz, varchar[], bigint[], bigint[], bigint[], varchar[], varchar[], boolean[],
    bigint[]);
DROP FUNCTION IF EXISTS ledger_post(varchar, varchar, text, varchar, timestamptz, timestamptz,
    varchar, bigint, bigint, bigint, varchar, varchar, boolean, bigint);
"""
