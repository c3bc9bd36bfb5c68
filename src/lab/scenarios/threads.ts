// The review threads the built-in scenarios come from (../shared/seeds). Subjects and
// Message-IDs as the seed files' headers give them; a thread whose seed carries no
// Message-ID is cited by subject only.
import type { ScenarioInput } from '../scenario.js';

type Thread = NonNullable<ScenarioInput['threads']>[number];

/** Truncate / hole punch against DMA into DAX pages; waiting for references, and where not to. */
export const DMA_VS_TRUNCATE: Thread = {
  subject: "Re: [PATCH v3 00/13] dax: fix dma vs truncate and remove 'page-less' support",
  messageId: '<20171026105850.GA31161@quack2.suse.cz>',
  year: 2017,
};

/** Telling pins from plain references: what became FOLL_PIN and GUP_PIN_COUNTING_BIAS. */
export const PUT_USER_PAGE: Thread = {
  subject: 'Re: [PATCH 1/2] mm: introduce put_user_page*(), placeholder versions',
  year: 2018,
};

/** fsdax refcounts are 1-based before v6.15: a put that misses 2 -> 1 never wakes the truncater. */
export const MISSING_WAKEUP: Thread = {
  subject: 'mm: fix missing wake-up event for FSDAX pages',
  messageId: '<20220704074054.32310-1-songmuchun@bytedance.com>',
  year: 2022,
};

/** MAP_DIRECT: a mapping backed by a lease that breaks on truncate / fallocate / write (never merged). */
export const MAP_DIRECT: Thread = {
  subject: 'Re: [PATCH v7 06/12] xfs: wire up MAP_DIRECT',
  messageId: '<CAPcyv4i6WBxfVJ0yqWbuW2kiJ-wpi+iYRPk=Kykqt3U5Rrw7MA@mail.gmail.com>',
  year: 2017,
};

/** A lock imbalance in the DAX fault path that fstests generic/075 (fsx) hung on. */
export const DAX_FAULT_DEADLOCK: Thread = {
  subject: '__dax_fault deadlock (fstests generic/075)',
  messageId: '<1443040800-5460-1-git-send-email-ross.zwisler@linux.intel.com>',
  year: 2015,
};

/**
 * Where a truncate or hole punch sleeps while a DAX page is busy, as a stack frame: 6.1 and
 * 6.12 xfs_break_dax_layouts() / ext4_break_layouts(); from v6.15 dax_break_layout() (with
 * wait_page_idle()), which xfs and ext4 call through the inline dax_break_layout_inode().
 */
export const BREAK_LAYOUTS_FRAME = '(break_(dax_)?layouts?|wait_page_idle)\\b';
