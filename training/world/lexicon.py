"""The bilingual world's words: parallel English / Simplified Chinese entries (data only, no logic).

Every table is a tuple of fixed entries, so the world built from a seed depends only on the seed and the
recipe's sizes. Chinese nouns carry their measure word (三个球, 两本书, 一辆汽车); numbers carry the counting
form (两, not 二).
"""
from __future__ import annotations

from typing import NamedTuple


class Name(NamedTuple):
    en: str
    zh: str


class Noun(NamedTuple):
    en: str        # singular
    en_pl: str     # plural
    zh: str
    cl: str        # measure word


class Phrase(NamedTuple):
    en: str
    zh: str


NAMES = tuple(Name(*p) for p in (
    ("Anna", "安娜"), ("Tom", "汤姆"), ("Lucy", "露西"), ("Jack", "杰克"), ("Mary", "玛丽"), ("David", "大卫"),
    ("Lily", "莉莉"), ("Peter", "彼得"), ("Emma", "艾玛"), ("Mike", "迈克"), ("Linda", "琳达"), ("Kate", "凯特"),
    ("Sam", "萨姆"), ("Nina", "妮娜"), ("Leo", "利奥"), ("Alice", "爱丽丝"), ("John", "约翰"), ("Sophie", "索菲"),
    ("Henry", "亨利"), ("Jenny", "珍妮")))

OBJECTS = tuple(Noun(*n) for n in (
    ("ball", "balls", "球", "个"), ("book", "books", "书", "本"), ("cup", "cups", "杯子", "个"),
    ("hat", "hats", "帽子", "顶"), ("car", "cars", "汽车", "辆"), ("pen", "pens", "笔", "支"),
    ("bag", "bags", "包", "个"), ("chair", "chairs", "椅子", "把"), ("kite", "kites", "风筝", "个"),
    ("bike", "bikes", "自行车", "辆"), ("umbrella", "umbrellas", "伞", "把"), ("shirt", "shirts", "衬衫", "件"),
    ("apple", "apples", "苹果", "个"), ("flower", "flowers", "花", "朵"), ("balloon", "balloons", "气球", "个"),
    ("key", "keys", "钥匙", "把"), ("notebook", "notebooks", "笔记本", "本"), ("bowl", "bowls", "碗", "个")))

# (English, Chinese noun "红色", Chinese adjective is noun + 的)
COLOURS = tuple(Phrase(*c) for c in (
    ("red", "红色"), ("blue", "蓝色"), ("green", "绿色"), ("yellow", "黄色"), ("white", "白色"), ("black", "黑色"),
    ("pink", "粉色"), ("orange", "橙色"), ("purple", "紫色"), ("brown", "棕色")))

# counting forms 1..10
NUMBERS = tuple(Phrase(*n) for n in (
    ("one", "一"), ("two", "两"), ("three", "三"), ("four", "四"), ("five", "五"), ("six", "六"), ("seven", "七"),
    ("eight", "八"), ("nine", "九"), ("ten", "十")))

# cities with their country: fixed, real-world knowledge ("Paris is in France.")
CITIES = tuple((Phrase(c, cz), Phrase(k, kz)) for c, cz, k, kz in (
    ("Paris", "巴黎", "France", "法国"), ("London", "伦敦", "Britain", "英国"), ("Beijing", "北京", "China", "中国"),
    ("Shanghai", "上海", "China", "中国"), ("Tokyo", "东京", "Japan", "日本"), ("Berlin", "柏林", "Germany", "德国"),
    ("Rome", "罗马", "Italy", "意大利"), ("Madrid", "马德里", "Spain", "西班牙"),
    ("Sydney", "悉尼", "Australia", "澳大利亚"), ("Moscow", "莫斯科", "Russia", "俄罗斯"),
    ("Cairo", "开罗", "Egypt", "埃及"), ("Toronto", "多伦多", "Canada", "加拿大")))

# places one goes to (besides the cities)
PLACES = tuple(Phrase(*p) for p in (
    ("the park", "公园"), ("the school", "学校"), ("the library", "图书馆"), ("the zoo", "动物园"),
    ("the market", "市场"), ("the beach", "海边"), ("the hospital", "医院"), ("the museum", "博物馆")))

DAYS = tuple(Phrase(*d) for d in (
    ("Monday", "星期一"), ("Tuesday", "星期二"), ("Wednesday", "星期三"), ("Thursday", "星期四"),
    ("Friday", "星期五"), ("Saturday", "星期六"), ("Sunday", "星期天")))

PARTS_OF_DAY = tuple(Phrase(*t) for t in (("morning", "早上"), ("afternoon", "下午"), ("evening", "晚上")))

# where a thing is: English "is on the table", Chinese "在桌子上"
LOCATIONS = tuple(Phrase(*p) for p in (
    ("on the table", "桌子上"), ("under the bed", "床底下"), ("next to the door", "门旁边"),
    ("in the kitchen", "厨房里"), ("on the sofa", "沙发上"), ("in the garden", "花园里"),
    ("behind the tree", "树后面")))

# things done once (past tense): "Tom swam" / "汤姆游泳了"; Chinese keeps the aspect particle in the phrase
ACTIVITIES = tuple(Phrase(*a) for a in (
    ("swam", "游泳了"), ("read a book", "看了一本书"), ("sang a song", "唱了一首歌"), ("cooked dinner", "做了晚饭"),
    ("played football", "踢了足球"), ("drew a picture", "画了一幅画"), ("danced", "跳舞了"),
    ("ran in the park", "在公园里跑步了")))

# hobbies (fixed facts): "Anna likes swimming." / "安娜喜欢游泳。"
HOBBIES = tuple(Phrase(*h) for h in (
    ("swimming", "游泳"), ("reading", "看书"), ("singing", "唱歌"), ("dancing", "跳舞"), ("cooking", "做饭"),
    ("drawing", "画画"), ("running", "跑步"), ("playing football", "踢足球")))

# jobs (fixed facts): English with its article
JOBS = tuple(Phrase(*j) for j in (
    ("a teacher", "老师"), ("a doctor", "医生"), ("a nurse", "护士"), ("a driver", "司机"), ("a cook", "厨师"),
    ("a farmer", "农民"), ("a singer", "歌手"), ("an engineer", "工程师"), ("a police officer", "警察"),
    ("a pilot", "飞行员")))

# pets (fixed facts): "Anna has a dog." / "安娜养了一只狗。"
PETS = tuple(Phrase(*p) for p in (
    ("a dog", "一只狗"), ("a cat", "一只猫"), ("a rabbit", "一只兔子"), ("a bird", "一只鸟"), ("a fish", "一条鱼"),
    ("a turtle", "一只乌龟")))
