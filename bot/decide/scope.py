"""Is the question about the bot's subject at all: social media, online conduct, electronic
communication, or the policy itself?

The confidence model learns from retrieval evidence, and generic words ("time", "school",
"day", "staff") occur in every policy, so "what time does school start?" can look answerable.
Every question these policies answer involves something online, a device, a message or
image, contact with pupils or parents, or the policy itself; a question with none of those
is off-topic and goes to the lead.
"""
from __future__ import annotations

from ..retrieval.text import stem, words

_SCOPE_WORDS = """
social media medium network networking online internet web website websites site sites app apps application platform
account accounts profile profiles page pages group groups chat chats chatroom forum forums blog blogs vlog wiki wikipedia
post posts posting posted repost share shared sharing upload uploaded download like likes liked comment comments
tag tagged tagging retweet tweet tweets story stories reel reels status bio handle username alias anonymous fake
friend friends friended unfriend follow follows follower followers following unfollow add added request requests
block blocked mute accept contact contacts connect connection communicate communication message messages messaging
messaged dm dms pm inbox text texts texting sms email emails emailed gmail hotmail outlook mail call calls video videos
photo photos photograph photographs picture pictures pic pics image images selfie selfies camera film filmed filming
record recorded recording screenshot screenshots livestream stream streaming live clip clips meme memes gif
phone phones mobile smartphone iphone ipad tablet laptop computer computers device devices wifi broadband browser
browsing browse search searches google googled youtube yt facebook fb messenger instagram insta ig snapchat snap snaps
tiktok twitter x whatsapp wa linkedin reddit discord telegram signal pinterest tumblr threads bereal twitch
roblox fortnite minecraft gaming game games gamer xbox playstation console steam tinder hinge bumble grindr dating
onlyfans zoom teams meet seesaw dojo classdojo parentmail weduc padlet
privacy private public password passwords login logins hack hacked hacking virus spam cyber cyberbullying troll trolling
trolled harass harassment bully bullying abuse abusive defamatory defame defamation libel slander disparage
reputation disrepute embarrass viral leak leaked confidential confidentiality gdpr
press journalist newspaper media reporter news radio tv
logo logos brand branding badge crest
monitor monitored monitoring filter filtering firewall ict it tech technology electronic digital
policy policies guidance guideline guidelines conduct disciplinary misconduct sacked fired dismissal
"""

SCOPE_STEMS = frozenset(stem(w) for w in _SCOPE_WORDS.split())


def in_scope(question: str) -> bool:
    """True when the question mentions anything the policies are about."""
    return any(stem(w) in SCOPE_STEMS for w in words(question))
