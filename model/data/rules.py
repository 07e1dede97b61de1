"""Weak-labelling rules that approximate the labelling guide (model/LABELING.md).

Each rule looks at one source record (its normalised text `norm`, where handles are `@user` and links
`http`, plus the source's structural fields) and returns a label or None (abstain). The rules follow the
guide's question, *is the post speaking with a particular person or to an audience?*, rather than the
raw structure: a reply whose text is a pitch is not labelled conversation, a brand reply that helps one
customer is.

Conflicts are resolved by tiers (`Rule.tier`, 1 = strongest evidence):
  * the first tier in which any rule fires decides;
  * if rules of that tier disagree, the labeller abstains (the row is not used as a weak example).
Tier 1 holds textual acts the guide decides explicitly (retweets, auto-DMs, contests/pitches, addressed
care language); tier 2 structure checked against the text (agent replies, customer-to-brand posts,
person-to-person replies, corporate / news / organisational posts without an addressee); tier 3 text
heuristics (audience questions and calls to action, headline-plus-link, addressed questions/thanks).

`dialogic data build` reports each rule's coverage and its precision on the gold set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from model.data import Record

BROADCAST, CONVERSATION = "broadcast", "conversation"


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    tier: int
    description: str
    fires: Callable[[Record], bool]

    def __call__(self, rec: Record) -> str | None:
        return self.label if self.fires(rec) else None


def _t(rec: Record) -> str:
    return rec["norm"].lower()


_LEADING_HANDLE = re.compile(r"^(?:@user[\s,:;]*)+")


def addressed(rec: Record) -> bool:
    """Starts with a handle (a reply or a post addressed to someone); `.@user` is *not* addressed."""
    return rec["norm"].startswith("@user")


def is_retweet(rec: Record) -> bool:
    return bool(re.match(r"^\s*rt\s+@user\b", _t(rec)))


def body(rec: Record) -> str:
    """The text after the leading handles, lower-cased."""
    return _LEADING_HANDLE.sub("", _t(rec)).strip()


# --- textual cue lexicons (English first; a few common Spanish/French/Russian forms) -----------------

_AUTO_DM = re.compile(
    r"\b(thanks?|thank you|thx)\s+(so much\s+)?(for|4)\s+(the\s+)?(follow|following|the add)\b(?! up)"
    r"|\bfollow(ed)? (me|us) back\b|\bsent (you|via) (a|an)?\s*(auto)?\s*dm\b|\bvia true ?twit\b",
)
# What makes a follow-back an auto-DM rather than personal thanks: it pushes something.
_PUSH = re.compile(r"\bhttp\b|\b(visit|check out|shop|use code|code|newsletter|subscribe|download|sign up)\b")
_PITCH = re.compile(
    r"\b\d+\s?% off\b|\bshop now\b|\bbuy now\b|\border now\b|\bgiveaway\b|\benter to win\b"
    r"|\b(rt|retweet|follow)\s*(&|and|\+)?\s*(rt|retweet|follow)?\s*(to|for a chance to) win\b"
    r"|\bfor a chance to win\b|\bchance to win\b|\bpromo code\b|\buse code\b"
    r"|\bwe'?re hiring\b|\bfree shipping\b|\bsign up (now|today)\b|\bregister (now|today)\b"
    r"|\bofficial rules\b|\bsweepstakes\b",
)
# Cues that also turn up in replies about a person's own case ("your contest entry", "the limited time
# offer ended"): a pitch only when nobody is addressed.
_PITCH_UNADDRESSED = re.compile(r"\blimited time\b|\bdon'?t miss\b|\bcheck out our\b|\bcontest\b")
_CARE = re.compile(
    r"\b(sorry|apologi[sz]e|apologies|inconvenience|frustrat\w*|understand)\b"
    r"|\b(dm|direct message|private message|pm)\b.{0,25}\b(us|me)\b|\b(send|shoot|drop) us\b"
    r"|\bplease (follow|reach|contact|send|dm|check|try|let)\b|\bhappy to help\b|\bglad to help\b"
    r"|\b(we'?d|we would|i'?d|i would) (like|love|be happy) to (help|assist|look)\b|\bassist you\b"
    r"|\bthanks? for (reaching out|letting us know|contacting|the feedback|your patience|the heads up)\b"
    r"|\b(your|the) (order|account|booking|reservation|flight|device|phone|number|case|ticket)\b"
    r"|\blet (us|me) know\b|\bhope (this|that) helps\b|\bkeep us posted\b|\bfollow up\b",
)
_AUDIENCE_CTA = re.compile(
    r"\btell us (below|in the|what|which|how|your)\b|\bcomment below\b|\bin the (comments|replies)\b"
    r"|\btag (a|your) (friend|buddy|bff|mom|dad)\b|\bwho'?s ready\b|\blink in (bio|profile)\b"
    r"|\b(learn|read|find out|discover|see|watch) (more|how|why|what)\b|\bclick (here|the link)\b"
    r"|\bjoin us\b|\bregister\b|\bsign up\b|\bcheck (it )?out\b|\bstay tuned\b|\bavailable now\b"
    r"|\bthank you to (all|every)\b|\bthanks to (all|every)\b|\bhappy (mother|father)'?s day\b"
    r"|\bmore info\b|\bleer m[aá]s\b|\ben savoir plus\b|\bподробнее\b|\bwebinar\b|\bicymi\b",
)
_CARE_THANKS = re.compile(r"^(thanks?|thank you|thx|ty|cheers|you'?re welcome|no problem|np|congrat\w*)\b")
_SECOND_PERSON = re.compile(r"\b(you|your|you'?re|you'?ll|you'?ve|u|ur|ya|y'all)\b")

_THANKS_OR_CONGRATS = re.compile(r"\b(thanks?|thx|congrat\w*|kudos)\b")

ORG_SOURCES = {"Government", "NGOs", "Business", "Media"}


def _pitch(rec: Record) -> bool:
    t = _t(rec)
    return bool(_PITCH.search(t) or (not addressed(rec) and _PITCH_UNADDRESSED.search(t)))


def _care(rec: Record) -> bool:
    return bool(_CARE.search(body(rec)))


def _is_agent_reply(rec: Record) -> bool:
    src = rec["source"]
    if src == "twcs":
        return rec.get("inbound") is False and bool(rec.get("in_response_to") or addressed(rec))
    if src == "ibm_customer_care":
        return rec.get("role") == "agent" and bool(rec.get("is_reply"))
    return False


def _is_customer_to_brand(rec: Record) -> bool:
    src = rec["source"]
    if src == "twcs":
        return rec.get("inbound") is True and addressed(rec)
    if src == "ibm_customer_care":
        return rec.get("role") in ("client", "client1") and addressed(rec)
    return False


# --- the rules ------------------------------------------------------------------------------------


def _r_retweet(rec: Record) -> bool:
    return is_retweet(rec)


def _r_auto_dm(rec: Record) -> bool:
    return bool(_AUTO_DM.search(_t(rec)) and _PUSH.search(_t(rec))) and not _care(rec)


def _r_pitch(rec: Record) -> bool:
    # A pitch or contest is broadcast even when delivered to a handle; abstain if care language is
    # present ("@user sorry, the contest ended, DM us") -- the care rule fires in the same tier.
    return _pitch(rec) and not (_is_agent_reply(rec) and _care(rec))


def _r_care_language(rec: Record) -> bool:
    return addressed(rec) and _care(rec) and not is_retweet(rec) and len(body(rec).split()) >= 3


def _r_agent_reply(rec: Record) -> bool:
    return _is_agent_reply(rec) and not is_retweet(rec) and not _pitch(rec)


def _r_customer_to_brand(rec: Record) -> bool:
    return _is_customer_to_brand(rec) and not is_retweet(rec) and len(body(rec)) > 0


def _r_thread_reply(rec: Record) -> bool:
    return (
        rec["source"] == "twitter_conv_corpus"
        and int(rec.get("position_in_thread") or 0) > 0
        and not is_retweet(rec)
        and not _pitch(rec)
    )


def _r_corporate_post(rec: Record) -> bool:
    """A company's own post, unless it speaks to someone: second person, thanks or congratulations are
    how its quote-tweets and its thanks to named accounts read."""
    t = _t(rec)
    return (
        rec["source"] == "fortune100_blm"
        and not rec.get("is_reply")
        and not addressed(rec)
        and not _SECOND_PERSON.search(t)
        and not _THANKS_OR_CONGRATS.search(t)
    )


def _r_news_outlet(rec: Record) -> bool:
    return rec["source"] == "ta1c" and not addressed(rec)


def _r_crisis_org(rec: Record) -> bool:
    return (
        rec["source"] == "crisislex_t26"
        and rec.get("info_source") in ORG_SOURCES
        and not addressed(rec)
        and "?" not in rec["norm"]
    )


def _r_audience_cta(rec: Record) -> bool:
    return not addressed(rec) and bool(_AUDIENCE_CTA.search(_t(rec)))


def _r_headline_link(rec: Record) -> bool:
    t = _t(rec)
    return (
        not addressed(rec)
        and "http" in t
        and "?" not in t
        and not _SECOND_PERSON.search(t)
        and not re.search(r"\b(i|i'm|my|me|lol)\b", t)
    )


def _r_addressed_question(rec: Record) -> bool:
    b = body(rec)
    return addressed(rec) and not is_retweet(rec) and "?" in b and "http" not in b and len(b.split()) >= 2


def _r_addressed_thanks(rec: Record) -> bool:
    return addressed(rec) and bool(_CARE_THANKS.match(body(rec))) and "http" not in body(rec)


def _r_addressed_second_person(rec: Record) -> bool:
    b = body(rec)
    return (
        addressed(rec)
        and not is_retweet(rec)
        and "http" not in b
        and bool(_SECOND_PERSON.search(b))
        and not _AUDIENCE_CTA.search(b)
    )


_VOCATIVE = re.compile(r"^[A-Z][a-z]+,? (are|did|do|when|where|have|how|can|will|what|why|is|u|you)\b")
_SOCIAL = re.compile(
    r"\b(thanks?|thank you|thx|congrat\w*|happy birthday|miss you|love you|lol|haha\w*|lmao|same)\b"
)


def _r_personal_status(rec: Record) -> bool:
    t = _t(rec)
    if addressed(rec) or is_retweet(rec) or "?" in t or len(t.split()) < 3:
        return False
    if rec["source"] in ("twcs", "ibm_customer_care"):  # customer posts there are written to a brand
        return False
    if rec["source"] == "twitter_conv_corpus" and int(rec.get("position_in_thread") or 0) > 0:
        return False
    return not (_SECOND_PERSON.search(t) or _VOCATIVE.search(rec["norm"]) or _SOCIAL.search(t))


RULES: tuple[Rule, ...] = (
    Rule(
        "retweet",
        BROADCAST,
        1,
        "Text starts with `RT @user`: re-posting amplifies a message to one's own audience (guide: "
        "retweets are in practice broadcast).",
        _r_retweet,
    ),
    Rule(
        "auto_dm",
        BROADCAST,
        1,
        "Templated follow-back / auto-DM ('thanks for following', 'via TrueTwit') that pushes a link, "
        "a code, a shop or a newsletter: identical for every recipient (plain thanks for a follow is not "
        "one).",
        _r_auto_dm,
    ),
    Rule(
        "pitch_or_contest",
        BROADCAST,
        1,
        "Sales pitch or contest cue (% off, shop now, giveaway, RT to win, promo code, we're hiring; "
        "'contest', 'limited time', \"don't miss\" only when nobody is addressed): a pitch is broadcast even "
        "when delivered to a handle, unless it is a care reply.",
        _r_pitch,
    ),
    Rule(
        "addressed_care_language",
        CONVERSATION,
        1,
        "Starts with @user and uses customer-care language (sorry, DM us, your order/account, let us "
        "know, happy to help): answers one person's problem.",
        _r_care_language,
    ),
    Rule(
        "agent_reply",
        CONVERSATION,
        2,
        "Brand/agent reply in a support thread (twcs inbound=false with a parent or a leading handle; "
        "ibm role=agent), not a pitch.",
        _r_agent_reply,
    ),
    Rule(
        "customer_to_brand",
        CONVERSATION,
        2,
        "Customer post that starts with the brand's handle (twcs inbound=true, ibm role=client): "
        "addressed to a specific account and asks for a response.",
        _r_customer_to_brand,
    ),
    Rule(
        "person_thread_reply",
        CONVERSATION,
        2,
        "Reply (position > 0) in a person-to-person reply chain (twitter_conv_corpus), not a pitch.",
        _r_thread_reply,
    ),
    Rule(
        "corporate_post",
        BROADCAST,
        2,
        "Fortune 100 company account post that is not a reply, does not start with a handle "
        "(`.@user` mention-first announcements included) and has no second person, thanks or "
        "congratulations.",
        _r_corporate_post,
    ),
    Rule(
        "news_outlet_post",
        BROADCAST,
        2,
        "News outlet post (ta1c) that does not start with a handle: headline or teaser.",
        _r_news_outlet,
    ),
    Rule(
        "crisis_org_post",
        BROADCAST,
        2,
        "CrisisLex post whose information source is Government/NGOs/Business/Media, not starting with a "
        "handle, no question mark: alerts, appeals, headlines.",
        _r_crisis_org,
    ),
    Rule(
        "audience_cta",
        BROADCAST,
        3,
        "Not addressed, with an audience question or call to action (tell us below, tag a friend, learn "
        "more, join us, sign up, thank you to all, ICYMI).",
        _r_audience_cta,
    ),
    Rule(
        "headline_link",
        BROADCAST,
        3,
        "Not addressed, contains a link, no question, no first/second-person pronouns: headline or "
        "link share.",
        _r_headline_link,
    ),
    Rule(
        "personal_status",
        BROADCAST,
        3,
        "Not addressed, not a reply in a thread, no question, no 'you', no vocative or social formula "
        "(thanks, congrats, lol): a status update or opinion thrown to the timeline (guide: personal status "
        "update with no addressee). Not used on customer-care sources, where customers write to a brand.",
        _r_personal_status,
    ),
    Rule(
        "addressed_question",
        CONVERSATION,
        3,
        "Starts with @user and asks a question (no link): a question put to someone.",
        _r_addressed_question,
    ),
    Rule(
        "addressed_thanks",
        CONVERSATION,
        3,
        "Starts with @user and opens with thanks / you're welcome / congrats (no link): addressed thanks.",
        _r_addressed_thanks,
    ),
    Rule(
        "addressed_second_person",
        CONVERSATION,
        3,
        "Starts with @user, speaks to 'you', no link and no call to action: talks with the addressee.",
        _r_addressed_second_person,
    ),
)

RULES_BY_NAME = {r.name: r for r in RULES}


def apply_rules(rec: Record) -> tuple[str | None, str | None]:
    """(label, deciding rule) or (None, None) when no tier decides or a tier disagrees."""
    for tier in sorted({r.tier for r in RULES}):
        fired = [r for r in RULES if r.tier == tier and r.fires(rec)]
        if not fired:
            continue
        labels = {r.label for r in fired}
        if len(labels) > 1:
            return None, None
        return fired[0].label, fired[0].name
    return None, None


def rule_votes(rec: Record) -> dict[str, str]:
    """Every rule that fires on `rec` and its label (for coverage / precision reports)."""
    return {r.name: r.label for r in RULES if r.fires(rec)}
