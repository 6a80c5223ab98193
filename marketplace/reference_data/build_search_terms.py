#!/usr/bin/env python3
"""Build search_terms.csv, the bilingual term list of search, from the IPC titles and GB/T 4754
names shipped beside it (ipc.csv, gbt4754_2017.csv); stdlib only, run by hand after either file
changes: `python marketplace/reference_data/build_search_terms.py`.

A pair (English term, Chinese term) is kept only where both terms occur in the same shipped row,
the English one in title_en / name_en (as words, singular or plural) and the Chinese one in
title_zh / name_zh, and every such row is cited in the `sources` column. The candidates are:

1. clauses of one title pair (split at ';' / '；' where both titles have as many clauses) with
   one content word in English and one in Chinese: PLANTING; SOWING ↔ 种植；播种;
2. short clauses of two or three English words whose Chinese clause is one run of 3-8
   characters: WIRELESS COMMUNICATION NETWORKS ↔ 无线通信网络;
3. the terms written out in HAND below (translations we wrote, kept only when a shipped row
   attests them).

Automatic candidates were read by us and the wrong ones are listed in REJECTED (misaligned
clauses such as HIDES ↔ 大原, or words too general to translate, such as TYPE, RANGE, MATCH).
Chinese words are cut with jieba's dictionary when rjieba is installed (the project's virtual
environment), else candidate kinds 1 and 2 are skipped and only HAND is attested.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "search_terms.csv"

_EN_STOP_WORDS = """
a an and or of the for to in on with by from as at is are be that this which its into e.g i.e
not other than such their general specially adapted covered provided elsewhere subclass class
group same these those thereof therefor using use means process processes method methods
apparatus device devices arrangement arrangements system systems
"""
EN_STOP = set(_EN_STOP_WORDS.split())
_ZH_GENERIC_WORDS = """
一般 其他 类目 不包括 小类 装置 方法 设备 系统 用于 专门 适用 所 包括 这些 这种 材料 制造
制造业 的 或 和 及 与 其 用 类 中 为 在 由 对
"""
ZH_GENERIC = set(_ZH_GENERIC_WORDS.split())

# Automatic candidates read and found wrong (misaligned) or too general to translate.
REJECTED = {
    ("cesspool", "污水"),
    ("checking-device", "核算"),
    ("decontamination", "污染"),
    ("electrography", "记录"),
    ("electrophotography", "照相"),
    ("equipment", "为此"),
    ("manufacture", "肥料"),
    ("material", "所用"),
    ("tenon", "加工"),
    ("wine", "果汁"),
    ("sink", "洗涤"),
    ("type", "活字"),
    ("range", "炉灶"),
    ("relevant", "有关"),
    ("safe", "保险箱"),
    ("tag", "示踪物"),
    ("lake", "色淀"),
    ("match", "火柴"),
    ("cycle", "自行车"),
    ("spirit", "烈性酒"),
    ("hide", "大原"),
    ("skin", "小原"),
    ("composition", "组合"),
    ("seal", "印鉴"),
    ("stamp", "印章"),
    ("stamp", "模印"),
    ("form", "模壳"),
    ("file", "文件夹"),
    ("paper", "造纸"),
    ("semiconductor", "半导体器件"),
    ("safety", "安全装置"),
    ("construction", "建筑业"),
    ("foundation", "基础"),
    ("press", "压力机"),
    ("brush", "刷类"),
    ("sign", "标记"),
    ("album", "图册"),
    ("fatty acid therefrom", "由此制取的脂肪酸"),
    ("related equipment", "与船有关的设备"),
    ("large underground chamber", "地下室"),
    ("human necessity", "人类生活必需"),
    ("naturally-occurring electricity", "自然发生的电"),
    ("obtain", "天然纤维"),
    ("drier", "催干剂"),
    ("mining", "采矿业"),
    ("heating", "供热"),
    ("support", "支撑"),
    ("installation", "设施"),
    ("selecting", "选择"),
    ("physic", "物理"),
    ("optic", "光学"),
    ("alarm", "报警装置"),
    ("transporting", "运输"),
    ("type", "活字"),
    ("substitute", "代用品"),
    ("working-up", "加工"),
    ("wadding", "填料"),
    ("trimming", "饰带"),
    ("hauling", "牵引"),
    ("preservation", "保存"),
    ("production", "生产"),
    ("application", "应用"),
    ("identification", "鉴定"),
    ("displaying", "显示"),
    ("key", "钥匙"),
    ("shaft", "竖井"),
    ("coupling", "连接"),
    ("model", "模型"),
    ("indexing", "索引"),
    ("range", "炉灶"),
    ("fire-lighter", "引火"),
    ("computing", "计算"),
    ("composition", "组合"),
    ("punching metal", "金属冲压"),
    ("real estate activity", "房地产业"),
    ("filing appliance", "文件夹"),
    ("designing pattern", "纹织物的设计"),
    ("combined operation", "组合加工"),
    ("producing decorative effect", "产生装饰效果"),
    ("cleaning beach", "海滩清洗"),
    ("cleaning land", "陆地清洗"),
}

# Terms we translated, kept only where a shipped row attests both (see the module docstring).
HAND = """
battery 电池; lithium 锂; sodium 钠; electrode 电极; cathode 阴极; anode 阳极;
electrolyte 电解质; electrolytic 电解; capacitor 电容器; semiconductor 半导体; transistor 晶体管;
diode 二极管; light-emitting 发光; laser 激光; optical 光学; light 光; display 显示;
organic 有机; inorganic 无机; polymer 聚合物; macromolecular 高分子; plastic 塑料;
rubber 橡胶; resin 树脂; fibre 纤维; fabric 织物; textile 纺织; cotton 棉; wool 毛;
yarn 纱线; dye 染料; dyeing 染色; paper 纸; wood 木材; glass 玻璃; ceramic 陶瓷;
cement 水泥; concrete 混凝土; steel 钢; iron 铁; metal 金属; alloy 合金; aluminium 铝;
copper 铜; welding 焊接; casting 铸造; forging 锻造; rolling 轧制; grinding 磨削;
cutting 切割; machine 机; machine tool 机床; tool 工具; manipulator 机械手; engine 发动机;
motor 马达; pump 泵; valve 阀; bearing 轴承; gearing 传动; spring 弹簧; vehicle 车辆;
motor vehicle 机动车; railway 铁路; ship 船舶; aircraft 飞行器; aeroplane 飞机;
tyre 轮胎; wheel 车轮; brake 制动; road 道路; bridge 桥梁; tunnel 隧道; building 建筑物;
water 水; waste water 废水; sewage 污水; sludge 污泥; treatment 处理; waste 废物; refuse 垃圾;
air 空气; gas 气体; fuel 燃料; combustion 燃烧; heating 加热; cooling 冷却;
refrigeration 制冷; heat 热; solar 太阳能; wind 风力; nuclear 核; electric 电;
electricity 电; electrical 电气; electric power 电力; energy 能; circuit 电路; cable 电缆;
conductor 导体; insulator 绝缘; switch 开关; transformer 变压器; generator 发电机;
signal 信号; signalling 信号; communication 通信; wireless 无线; network 网络;
telephone 电话; television 电视; radio 无线电; antenna 天线; computer 计算机;
computing 计算; data 数据; image 图像; video 视频; speech 语音; recognition 识别;
information 信息; storage 存储; store 存储器; control 控制; controlling 控制;
regulating 调节; measuring 测量; testing 测试; detecting 探测; temperature 温度;
pressure 压力; medical 医用; medicine 医药; pharmaceutical 医药; drug 药物;
diagnosis 诊断; surgery 外科; dentistry 牙科; therapy 治疗; therapeutic 治疗; food 食品;
foodstuff 食品; beverage 饮料; tea 茶; coffee 咖啡; milk 乳; dairy 乳制品; meat 肉;
fruit 水果; vegetable 蔬菜; grain 谷物; agriculture 农业; agricultural 农业; planting 种植;
sowing 播种; harvesting 收获; fertiliser 肥料; fertilising 施肥; soil 土壤; plant 植物;
animal 动物; fish 鱼; fishing 捕鱼; forestry 林业; microorganism 微生物; enzyme 酶;
gene 基因; genetic 遗传; protein 蛋白质; peptide 肽; nucleic acid 核酸; chemistry 化学;
chemical 化学; compound 化合物; composition 组合物; mixture 混合物; catalyst 催化剂;
coating 涂层; paint 涂料; adhesive 黏合剂; ink 油墨; detergent 洗涤剂; lubricant 润滑剂;
oil 油; petroleum 石油; coal 煤; natural gas 天然气; explosive 炸药; weapon 武器;
packaging 包装; package 包装; container 容器; printing 印刷; furniture 家具;
apparel 服装; footwear 鞋; toy 玩具; game 游戏; music 音乐; musical instrument 乐器;
separation 分离; filtration 过滤; filter 过滤器; membrane 膜; crystal 晶体; powder 粉末;
nanostructure 纳米; magnetic 磁; magnet 磁体; vacuum 真空; plasma 等离子体; x-ray X射线;
ultrasound 超声; ultrasonic 超声; radiation 辐射; acoustic 声学; sound 声; optics 光学;
lens 透镜; photography 摄影; photographic 照相; clock 钟; watch 表; lighting 照明; lamp 灯;
heat exchange 热交换; drying 干燥; mixing 混合; crushing 粉碎; conveying 输送; lifting 提升;
crane 起重机; elevator 升降机; mining 采矿; drilling 钻; excavation 挖方;
building material 建筑材料; surface 表面; flexible 柔性; elastic 弹性; electrostatic 静电;
insulation 绝缘; fire-fighting 消防; fire 火; flame 火焰; smoke 烟; safety 安全; alarm 报警;
lock 锁; door 门; window 窗; roof 屋顶; floor 楼板; ventilation 通风; ventilating 通风;
air-conditioning 空气调节; cleaning 清洗; sterilisation 灭菌; disinfection 消毒;
hygiene 卫生; health 卫生; perfume 香料; tobacco 烟草; cigarette 卷烟; education 教育;
advertising 广告; finance 金融; financial 金融; insurance 保险;
electrically-propelled vehicle 电动车辆; unmanned aerial vehicle 无人驾驶飞行器;
additive manufacturing 增材制造; 3d printing 3D打印; internal-combustion engine 内燃机;
turbine 涡轮; steam 蒸汽; boiler 锅炉; furnace 炉; kiln 窑; distillation 蒸馏;
fermentation 发酵; beer 啤酒; sugar 糖; starch 淀粉; fat 脂肪; cellulose 纤维素;
leather 皮革; fur 毛皮; knitting 针织; weaving 织造; sewing 缝纫; hat 帽;
semiconductor device 半导体器件; printed circuit 印刷电路; electronic 电子; digital 数字;
analogue 模拟; pulse 脉冲; amplifier 放大器; oscillation 振荡; modulation 调制; coding 编码;
cryptography 密码; software 软件; superconductivity 超导; thermoelectric 热电;
piezoelectric 压电; solid-state 固态; microstructural 微观结构; spectacle 眼镜;
solid 固体; liquid 液体; fluid 流体; hydraulic 液压; pneumatic 气动; robot 机器人;
sensor 传感器; detection 检测; monitoring 监控; electric vehicle 电动车辆;
transport 运输; traffic 交通; navigation 导航; medium 介质; cultivation 培养;
culture media 培养基; horticulture 园艺; animal husbandry 畜牧业; veterinary 兽医;
cosmetic 化妆品; toilet 盥洗; sport 体育; ammunition 弹药; office 办公; furniture 家具;
tobacco 烟草; dentistry 牙科; harvester 收割机; seed 种子; irrigation 灌溉;
watering 浇水; silk 丝; chemical fibre 化学纤维; man-made 人造; non-woven fabric 非织造布;
pharmaceuticals 医药; metal product 金属制品; ferrous metal 黑色金属; non-ferrous metal 有色金属;
smelting 冶炼; rubber product 橡胶制品; plastics product 塑料制品; non-metallic 非金属;
mineral 矿物; petroleum 石油; telecommunications 电信; broadcasting 广播; satellite 卫星;
internet 互联网; software 软件; information technology 信息技术; research 研究;
experimental development 试验发展; repair 修理; recycling 回收; recovery 回收;
waste resource 废弃资源; measuring instrument 仪器仪表; motor vehicles 汽车
"""


def lemma(word: str) -> str:
    """Lower case, English plural to singular (batteries → battery, fibres → fibre)."""
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def en_tokens(text: str) -> list[str]:
    return [lemma(word) for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*", text)]


def rows() -> list[tuple[str, str, str]]:
    """(citation, English title, Chinese title) of every shipped row with both languages."""
    found = []
    with (HERE / "ipc.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            found.append((f"IPC {row['symbol']}", row["title_en"], row["title_zh"]))
    with (HERE / "gbt4754_2017.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["name_en"]:
                found.append((f"GB/T 4754 {row['code']}", row["name_en"], row["name_zh"]))
    return found


def attested(en: str, zh: str, shipped: list[tuple[str, str, str]]) -> tuple[list[str], str]:
    """The rows whose English title holds `en` as words and whose Chinese title holds `zh`,
    and `en` as the first of them writes it (lower case: "batteries" for battery)."""
    wanted = en_tokens(en)
    cited: list[str] = []
    written = en
    for citation, title_en, title_zh in shipped:
        originals = re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*", title_en)
        words = [lemma(word) for word in originals]
        starts = [
            at
            for at in range(len(words) - len(wanted) + 1)
            if words[at : at + len(wanted)] == wanted
        ]
        if starts and zh.lower() in title_zh.lower():
            if not cited:
                written = " ".join(originals[starts[0] : starts[0] + len(wanted)]).lower()
            cited.append(citation)
    return cited, written


def automatic(shipped: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    try:
        import rjieba
    except ImportError:
        return []
    found: list[tuple[str, str]] = []
    for _, title_en, title_zh in shipped:
        en_clauses, zh_clauses = title_en.split(";"), title_zh.split("；")
        if len(en_clauses) != len(zh_clauses):
            en_clauses, zh_clauses = [title_en], [title_zh]
        for en, zh in zip(en_clauses, zh_clauses, strict=True):
            en, zh = re.sub(r"\[[^\]]*\]", "", en), re.sub(r"\[[^\]]*\]", "", zh).strip()
            all_words = re.findall(r"[A-Za-z][A-Za-z-]*", en)
            words = [w for w in all_words if w.lower() not in EN_STOP and len(w) > 2]
            zh_words = [
                w
                for w in rjieba.cut(zh)
                if re.search(r"[\u4e00-\u9fff]", w) and len(w) >= 2 and w not in ZH_GENERIC
            ]
            if len(words) == 1 and len(zh_words) == 1:
                found.append((lemma(words[0]), zh_words[0]))
            content = [w for w in all_words if w.lower() not in EN_STOP]
            if 2 <= len(content) == len(all_words) <= 3 and re.fullmatch(
                r"[\u4e00-\u9fff]{3,8}", zh
            ):
                found.append((" ".join(lemma(w) for w in content), zh))
    return found


def hand() -> list[tuple[str, str]]:
    pairs = []
    for item in HAND.replace("\n", " ").split(";"):
        words = item.split()
        if words:
            pairs.append((" ".join(words[:-1]).lower(), words[-1]))
    return pairs


HAND_PAIRS = set(hand())


def build() -> list[dict[str, str]]:
    shipped = rows()
    table: dict[tuple[str, str], tuple[str, list[str]]] = {}
    # Hand-written terms first: they say the English term as we want it read (singular).
    for en, zh in [*hand(), *automatic(shipped)]:
        key = (" ".join(en_tokens(en)), zh)
        if key in table or (en, zh) in REJECTED or key in REJECTED:
            continue
        cited, written = attested(en, zh, shipped)
        if cited:
            table[key] = (en if (en, zh) in HAND_PAIRS else written, cited)
    return [
        {"term_en": written, "term_zh": zh, "sources": "; ".join(cited[:5])}
        for (_, zh), (written, cited) in sorted(table.items())
    ]


def main() -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["term_en", "term_zh", "sources"], lineterminator="\n")
    writer.writeheader()
    table = build()
    writer.writerows(table)
    OUT.write_text(out.getvalue(), encoding="utf-8")
    print(f"{OUT.name}: {len(table)} pairs")


if __name__ == "__main__":
    main()
