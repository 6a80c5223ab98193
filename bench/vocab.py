"""Curated vocabulary for the benchmark generator: IPC groups, technical terms, regions.

IPC: real subclasses (IPC 2024.01) with real main groups or subgroups under each, written the
way the register prints them ("H01M 10/0525"). Each section has a list of Chinese and English
technical terms, most common first, so that titles, abstracts and queries of one section share
their words and a query finds documents. Designs are classified by Locarno in reality, but the
platform requires a main IPC for every patent, so generated designs get one too.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _groups(text: str) -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for line in text.strip().splitlines():
        subclass, _, groups = line.partition(":")
        table[subclass.strip()] = tuple(groups.split())
    return table


# Section → share of patents (roughly the CNIPA grant mix of the last decade).
SECTION_WEIGHTS: dict[str, float] = {
    "A": 0.14,
    "B": 0.16,
    "C": 0.13,
    "D": 0.02,
    "E": 0.05,
    "F": 0.08,
    "G": 0.23,
    "H": 0.19,
}

# Subclass: groups (main/sub). Within a section the first subclasses are the busiest.
IPC_GROUPS = _groups(
    """
A61K: 9/00 9/06 9/20 9/48 9/127 8/02 31/00 35/00 36/00 38/00
A61B: 5/00 5/0205 6/03 8/00 17/00 17/34 34/30 90/00 1/00
A61P: 35/00 29/00 3/10 9/00 31/04 25/00 1/00
A23L: 2/00 3/00 5/00 7/10 19/00 33/00 33/105
A61M: 1/00 5/00 16/00 25/00 37/00 39/00
A61F: 2/00 5/00 7/00 9/00 13/15
A01G: 9/02 13/00 17/00 22/00 25/00 31/00
A47J: 27/00 31/44 36/00 37/06 43/04 43/24
A01K: 1/00 5/02 61/00 67/00
A61H: 1/00 3/00 7/00 39/04
A01N: 25/00 43/40 47/00 63/00
A61L: 2/00 9/00 15/00 27/00 31/00
A47L: 9/28 11/00 11/24 15/00
A23K: 10/00 20/10 50/00
A61Q: 1/00 5/00 19/00
A61G: 5/00 7/00 12/00
A01B: 1/00 33/00 49/02 79/02
A01C: 1/00 7/00 21/00
A01D: 34/00 41/02 45/00
A01M: 1/02 7/00 21/04
A23F: 3/00 3/14 5/00
A23B: 4/00 7/00
A23P: 10/00 20/00 30/00
A47B: 13/00 88/00 96/00
A47C: 4/04 7/00 27/00
A61C: 7/00 8/00 13/00
A61N: 1/00 1/36 5/00 5/10
A62C: 3/00 31/00 37/00
A63B: 21/00 22/00 69/00 71/06
A24F: 40/00 47/00
A41D: 1/00 13/00 31/00
A43B: 3/00 7/00 13/00
B01D: 1/00 3/00 5/00 21/00 29/00 35/00 46/00 53/00 53/86
B01J: 19/00 20/00 20/28 21/00 23/00 27/00 35/00 37/00
B25J: 5/00 9/00 9/16 11/00 13/00 13/08 15/00 19/00
B65G: 1/00 15/00 21/00 35/00 43/00 47/00 47/90 65/00 69/00
B23K: 1/00 3/00 9/00 20/00 26/00 26/38 31/00 37/00
B29C: 31/00 33/00 45/00 48/00 64/00 64/20 65/00 70/00
B60L: 1/00 3/00 7/00 15/00 50/00 53/00 58/00 58/12
B65D: 19/00 21/00 25/00 33/00 47/00 51/00 81/00 85/00 88/00
B23Q: 1/00 3/00 3/06 7/00 11/00 17/00
B08B: 1/00 3/00 5/00 13/00 15/00
B01F: 27/00 27/90 29/00 33/00 35/00
B22F: 1/00 3/00 3/105 9/00 9/04 10/00
B24B: 1/00 7/00 19/00 27/00 37/00 41/00 49/00 55/00
B32B: 5/00 7/00 7/12 9/00 15/00 17/00 27/00 27/06 27/08
B60W: 10/00 20/00 30/00 30/09 40/00 50/00 60/00
B62D: 5/04 6/00 7/00 15/00 21/00 25/00 57/00 65/00
B64C: 13/00 25/00 27/00 29/00 39/00 39/02
B64U: 10/00 20/00 30/00 50/00 70/00 80/00 101/00
B65B: 1/00 3/00 5/00 7/00 43/00 51/00 57/00 61/00 69/00
B02C: 4/00 18/00 21/00 23/00
B05B: 1/00 7/00 13/00 15/00
B05C: 1/00 5/00 11/00 13/00
B21D: 5/00 22/00 28/00 37/00 39/00 43/00
B23P: 6/00 15/00 19/00 23/00
B26D: 1/00 5/00 7/00 7/18
B60R: 1/00 11/00 16/00 16/02 16/023 21/00 25/00
B65H: 5/00 18/00 29/00 35/00 49/00 54/00 57/00 75/00
B66C: 1/00 13/00 15/00 17/00 23/00
B66F: 7/00 9/00 11/00 19/00
B07B: 1/00 1/28 4/00
B09B: 3/00 5/00
B22D: 11/00 17/00 18/00 41/00 46/00
B28B: 1/00 7/00 11/00
B33Y: 10/00 30/00 40/00 70/00 80/00
B60K: 1/00 6/00 7/00 11/00 17/00 35/00 37/00
B66B: 1/00 5/00 9/00 11/00 19/00 25/00
B82Y: 5/00 15/00 20/00 30/00 40/00
B03C: 1/00 3/00
B63B: 1/00 35/00 79/00
C02F: 1/00 1/28 1/44 1/46 1/52 1/72 3/00 3/28 3/30 9/00
C04B: 7/00 14/00 18/00 20/00 24/00 28/00 28/04 35/00 35/10
C08L: 1/00 3/00 23/00 23/06 23/12 27/00 33/00 63/00 67/00
C12N: 1/00 1/16 1/20 1/21 5/00 5/0775 7/00 9/00 15/00
C22C: 1/00 1/05 9/00 14/00 19/00 21/00 33/00 38/00 38/02
C07D: 207/00 209/00 213/00 239/00 401/00 403/00 471/00 487/04
C01B: 3/00 21/00 25/00 32/00 32/05 32/15 32/182 33/00 33/12
C09D: 1/00 5/00 5/08 7/00 11/00 133/00 163/00 175/00 183/00
C08K: 3/00 3/04 3/22 3/36 5/00 7/00 9/00 13/00
C12Q: 1/00 1/02 1/04 1/68 1/6806 1/6869 1/6883 1/689
C07C: 1/00 2/00 29/00 41/00 45/00 51/00 67/00 209/00
C08G: 18/00 18/48 59/00 63/00 64/00 65/00 69/00 73/00
C23C: 4/00 8/00 14/00 14/35 16/00 16/455 18/00 22/00 28/00
C08J: 3/00 5/00 5/18 7/00 9/00 11/00
C09K: 3/00 3/10 5/00 5/14 8/00 11/00 19/00 21/00
C12P: 7/00 7/06 13/00 17/00 19/00 21/00
C22B: 1/00 3/00 7/00 23/00 26/00 34/00 47/00 59/00
C07K: 1/00 7/00 14/00 16/00 16/28 19/00
C08F: 2/00 8/00 110/00 210/00 212/00 220/00 283/00 290/00
C21D: 1/00 1/18 6/00 8/00 9/00
C01G: 23/00 45/00 49/00 51/00 53/00
C05G: 3/00 5/00
C05F: 11/00 15/00 17/00
C09J: 7/00 11/00 133/00 163/00 175/00
C10L: 1/00 3/00 5/00
C11D: 1/00 3/00 7/00 11/00
C12M: 1/00 1/107 1/34 3/00
C25B: 1/00 1/04 3/00 9/00 11/00
C25D: 3/00 5/00 7/00 11/00 17/00 21/00
C03C: 3/00 10/00 17/00
C30B: 15/00 25/00 29/00 33/00
C10G: 1/00 45/00 47/00
C22F: 1/00 1/04 1/18
D06F: 33/00 34/00 37/00 39/00 58/00
D01F: 1/00 1/10 6/00 8/00 9/00
D06M: 11/00 13/00 15/00
D03D: 1/00 13/00 15/00 47/00
D04H: 1/00 3/00
D01D: 1/00 5/00
D21H: 11/00 17/00 19/00 21/00 27/00
D06P: 1/00 3/00 5/00
D04B: 1/00 21/00
D01H: 1/00 13/00
D06B: 1/00 3/00 23/00
D21C: 3/00 5/00 9/00
E04B: 1/00 1/18 1/38 1/98 2/00 2/88 5/00 7/00 9/00
E04G: 3/00 5/00 11/00 13/00 17/00 21/00 23/00 23/02 25/00
E02D: 3/00 5/00 17/00 17/04 27/00 29/00 31/00 33/00
E21B: 7/00 10/00 17/00 21/00 33/00 34/00 43/00 43/26 47/00
E01D: 2/00 19/00 21/00 22/00
E04F: 11/00 13/00 15/00 21/00
E21D: 9/00 11/00 20/00 21/00 23/00
E04H: 1/00 5/00 6/00 9/00 9/02 12/00 17/00
E01C: 7/00 11/00 19/00 23/00
E03F: 1/00 3/00 5/00
E06B: 3/00 3/30 5/00 7/00 9/00
E02F: 3/00 5/00 9/00 9/22
E04D: 3/00 11/00 13/00
E04C: 2/00 3/00 5/00
E21F: 5/00 7/00 16/00 17/00
E02B: 3/00 8/00 11/00
E01F: 8/00 9/00 15/00
E05B: 47/00 65/00
F16K: 1/00 5/00 11/00 15/00 17/00 27/00 31/00 37/00 51/00
F24F: 1/00 3/00 5/00 7/00 8/00 11/00 11/30 11/64 13/00
F16H: 1/00 1/28 3/00 7/00 19/00 25/00 35/00 48/00 57/00
F16L: 3/00 9/00 11/00 21/00 23/00 33/00 37/00 41/00 55/00
F25B: 1/00 9/00 13/00 15/00 21/00 25/00 29/00 30/00 41/00
F21V: 5/00 7/00 14/00 15/00 17/00 19/00 21/00 23/00 29/00
F16F: 1/00 7/00 9/00 13/00 15/00 15/02 15/04
F26B: 3/00 5/00 9/00 11/00 17/00 20/00 21/00 23/00 25/00
F28D: 1/00 7/00 7/10 7/16 9/00 15/00 20/00 21/00
F16B: 2/00 5/00 7/00 12/00 35/00 37/00 39/00 43/00
F16C: 3/00 11/00 17/00 19/00 32/00 33/00 35/00
F04D: 13/00 17/00 19/00 25/00 27/00 29/00
F21S: 2/00 4/00 8/00 9/00 9/02 9/03 41/00 43/00 45/00
F25D: 3/00 11/00 17/00 21/00 23/00 25/00 29/00 31/00
F24S: 10/00 20/00 30/00 40/00 50/00 60/00 70/00 80/00 90/00
F03D: 1/00 3/00 7/00 9/00 13/00 17/00 80/00
F15B: 11/00 13/00 15/00 19/00 21/00
F28F: 1/00 3/00 9/00 13/00 19/00 21/00 27/00
F16J: 12/00 13/00 15/00 15/06
F04B: 35/00 39/00 49/00 53/00
F24H: 1/00 4/00 7/00 9/00 9/20
F27D: 1/00 3/00 7/00 9/00 11/00 15/00 17/00 19/00 21/00
F01N: 3/00 3/20 9/00 13/00
F16D: 3/00 13/00 25/00 48/00 55/00 65/00 66/00
F23G: 5/00 7/00
F02M: 26/00 35/00 51/00 61/00
F01D: 5/00 9/00 11/00 25/00
F24C: 7/00 15/00 15/20
F17C: 1/00 5/00 13/00
F16M: 11/00 11/04 13/00
G06F: 3/01 3/041 3/0484 3/06 8/00 9/48 9/50 11/36 16/00
G01N: 1/28 3/00 21/01 21/25 21/31 21/65 27/00 30/02 33/00
G06Q: 10/04 10/06 10/0631 10/08 10/20 30/02 40/04 50/06
G06T: 1/00 3/40 5/00 5/50 7/00 7/11 7/13 7/73 7/80 17/00
G06N: 3/04 3/045 3/0464 3/08 3/084 5/01 5/02 7/01 20/00
G06V: 10/25 10/44 10/764 10/774 10/82 20/10 20/52 20/56
G01R: 1/04 19/00 31/00 31/08 31/12 31/36 31/367 31/392 31/52
G05B: 11/00 13/00 13/04 17/00 19/042 19/05 19/418 23/02
G01S: 5/00 7/48 13/86 13/89 13/931 15/00 17/89 17/931 19/42
G01M: 1/00 3/00 5/00 7/00 7/02 13/00 13/04 15/00 17/00
G01B: 5/00 7/00 7/02 11/00 11/24 11/25 21/00
G01D: 5/00 11/00 21/00
G06K: 7/10 17/00 19/06
G08G: 1/00 1/01 1/0962 1/16 3/00 5/00 9/00
G02B: 1/04 5/30 6/02 6/42 7/02 13/18 21/00 27/01 27/09
G16H: 10/60 20/10 20/30 20/40 30/20 30/40 40/63 50/20 50/30
G01C: 3/00 9/00 11/00 15/00 19/00 21/20 21/34 22/00 25/00
G08B: 3/00 5/00 7/00 13/00 17/10 19/00 21/02 21/18 25/00
G02F: 1/01 1/13 1/133 1/1333 1/1335 1/1343 1/1362 1/1368
G09G: 3/20 3/32 3/3208 3/3225 3/3233 3/34 3/36 5/10
G01K: 1/00 7/00 11/00 13/00 15/00
G01L: 1/00 1/22 5/00 9/00 19/00 25/00
G10L: 13/00 15/02 15/06 15/16 15/22 15/26 17/00 21/0208 25/30
G01F: 1/00 1/66 22/00 23/00 25/00
G01J: 1/00 3/00 3/28 5/00 9/00
G05D: 1/00 1/02 1/10 3/00 7/00 16/00 23/00 23/19 27/00
G09B: 5/00 7/00 9/00 19/00 21/00 23/00 25/00 29/00
G09F: 3/00 7/00 9/00 9/30 9/33 13/00 15/00 19/00 27/00
G11C: 5/00 7/00 8/00 11/16 11/40 11/401 13/00 16/04 16/10
G16Y: 10/00 20/00 30/00 40/10 40/20 40/30 40/35
G01V: 1/00 1/28 3/00 8/00 9/00
G03F: 1/00 7/00 7/004 7/20 9/00
G07C: 1/00 3/00 5/00 9/00
G16B: 20/00 25/00 30/00 40/00 50/00
G01H: 1/00 9/00 17/00
G01W: 1/00 1/02 1/10
G05F: 1/00 1/56 3/00 3/20
G07F: 7/00 9/00 11/00 17/00 19/00
G01P: 3/00 5/00 13/00 15/00
H01M: 4/13 4/36 4/505 4/525 4/58 4/62 10/0525 10/0567 10/42
H01L: 21/02 21/027 21/56 21/67 23/31 23/367 25/065 29/66
H04L: 1/00 5/00 9/08 9/32 9/40 12/28 41/00 43/08 67/10
H02J: 1/00 3/00 3/14 3/18 3/28 3/32 3/38 7/00 7/35 50/10
H04W: 4/02 4/40 4/70 12/06 24/02 28/00 36/00 64/00 72/04
H02M: 1/00 1/08 1/32 3/00 3/155 3/158 3/335 5/458 7/5387
H04N: 1/00 5/222 5/232 7/18 9/31 13/239 19/176 19/70 23/60
H02K: 1/16 1/27 1/32 3/28 5/20 7/116 9/19 15/00 21/00
H05K: 1/02 1/11 1/18 3/30 3/34 3/46 5/02 7/14 7/20 9/00
H01Q: 1/22 1/36 1/38 1/48 1/50 1/52 5/10 9/04 21/06
H02H: 1/00 3/00 3/08 3/20 7/00 7/18 9/00
H01R: 4/00 9/00 12/00 13/02 13/40 13/502 13/52 13/631 13/66
H02S: 10/00 20/00 20/30 30/00 40/00 50/00
H01G: 4/00 4/30 9/00 11/00 11/30 11/86
H01F: 1/00 7/06 17/00 27/24 27/28 27/30 38/14 41/02 41/04
H02G: 1/02 3/04 3/08 3/30 7/00 9/00 11/00 15/00
H04B: 1/38 1/40 3/00 7/06 7/185 10/116 10/25 10/50 17/00
H01B: 1/22 3/30 5/00 7/00 7/02 7/17 7/18 13/00 17/00
H05B: 1/00 3/00 3/34 6/00 6/64 45/10 47/10 47/19 47/175
H01H: 1/00 3/00 9/02 13/00 33/66 35/00 50/00 71/10 85/00
H02P: 1/00 5/00 6/00 7/00 8/00 9/00 21/00 23/00 27/00
H10K: 50/10 50/11 50/80 59/12 71/00 85/00
H04R: 1/02 1/08 1/10 1/28 3/00 9/06 17/00 19/00
H04M: 1/02 1/72 1/724 3/42 3/51
H01S: 3/00 3/067 3/10 5/00
H02B: 1/28 1/56 3/00 5/00 7/00 13/00
H03K: 3/00 5/00 17/00 19/00
H10B: 12/00 41/00 43/00
H01J: 37/26 37/305 37/32 49/00 61/00
H04J: 3/00 11/00 13/00 14/00
H01P: 1/00 1/20 3/00 5/00 7/00 11/00
H03F: 1/00 3/00 3/45
H03H: 7/00 9/00 9/02 11/00 17/00
H03M: 1/00 1/12 7/00 13/00
"""
)

# Chinese technical terms per section, most common first.
ZH_TERMS: dict[str, tuple[str, ...]] = {
    "A": _words(
        """
        药物组合物 中药 提取物 制剂 食品 发酵 蛋白质 多糖 益生菌 饲料 种植 育苗 灌溉 施肥 土壤
        农作物 养殖 水产 病虫害 农药 胶囊 颗粒 注射液 抗肿瘤 抑制剂
        医疗器械 导管 支架 康复 护理 手术 内窥镜 血压 超声 口腔 牙齿 化妆品 护肤 面膜 座椅 厨具
        烹饪 吸尘器 扫地机器人 茶叶 果汁 保鲜 烘焙 婴儿 健身 鞋底 服装
        输液 消毒 止血 骨科 心电
        """
    ),
    "B": _words(
        """
        机械手 机器人 夹持 夹具 焊接 激光 切割 打磨 抛光 冲压 模具 注塑 挤出 增材制造 输送带 传送
        分拣 包装 搬运 起重 叉车 过滤 除尘 废气 吸附 催化剂 膜分离
        搅拌 混合 粉碎 研磨 筛分 喷涂 涂布 清洗 无人机 电动汽车 车辆 充电桩 驾驶 底盘 悬架 制动
        轮胎 船舶 集装箱 层压 纳米 薄膜 机床 刀具 工件 定位 升降 轨道
        托盘 物流
        """
    ),
    "C": _words(
        """
        聚合物 树脂 环氧树脂 聚氨酯 聚乙烯 聚丙烯 橡胶 涂料 胶粘剂 复合材料 纤维 石墨烯 碳纳米管
        催化剂 合成 化合物 衍生物 晶体 水泥 混凝土 陶瓷 玻璃 合金 钢材
        铝合金 钛合金 热处理 冶炼 镀层 电镀 涂层 废水 污水 污泥 沉淀 萃取 菌株 基因 抗体 细胞 引物
        试剂盒 生物质 燃料 润滑油 表面活性剂 洗涤剂 肥料 有机肥 改性
        溶剂 反应釜 氧化物 纳米颗粒 前驱体 烧结 浸出 吸附剂 阻燃 固化剂
        """
    ),
    "D": _words(
        """
        纺织 纱线 纤维 面料 织物 针织 无纺布 染色 印染 整理剂 抗菌 阻燃 防水 涤纶 棉纤维 纺丝
        静电纺丝 造纸 纸浆 纸张 洗衣机 烘干 熨烫 织机 经编 纬编 羊毛
        蚕丝 麻纤维 吸湿 透气 弹性 涂层 染料 助剂 纤维素
        """
    ),
    "E": _words(
        """
        建筑 混凝土 钢筋 预制 装配式 墙体 楼板 梁柱 屋面 防水层 保温 幕墙 门窗 隧道 盾构 基坑 支护
        桩基 地基 边坡 路面 沥青 桥梁 桥墩 脚手架 模板 排水 管道
        井盖 钻井 钻头 油气 井下 煤矿 巷道 锚杆 注浆 挖掘机 锁具 抗震 施工 加固 围护 地下室 钢结构
        """
    ),
    "F": _words(
        """
        发动机 涡轮 叶片 压缩机 水泵 风机 阀门 密封 轴承 齿轮 减速器 传动 液压 气缸 弹簧 减振 管道
        接头 法兰 换热器 散热 冷却 制冷 空调 热泵 锅炉 燃烧 燃烧器
        干燥 窑炉 照明 灯具 光源 透镜 太阳能 集热器 储能 风力 汽轮机 冷凝器 蒸发器 阀芯 活塞
        联轴器 导轨 冰箱 加热 余热
        """
    ),
    "G": _words(
        """
        传感器 检测 测量 信号 算法 神经网络 深度学习 机器学习 图像 图像处理 目标检测 识别 人脸识别
        语音识别 数据 数据库 存储 服务器 云计算 区块链 模型 训练 预测
        优化 控制器 导航 雷达 激光雷达 光谱 显微镜 光学 镜头 显示面板 液晶 芯片 处理器 计算机 终端
        软件 网络 监测 故障诊断 交通 自动驾驶 医学影像 知识图谱
        特征提取 卷积 点云 标定 仿真 调度 推荐 文本 编码 用户 智能 无人机 遥感 电力系统
        """
    ),
    "H": _words(
        """
        电池 锂离子电池 正极材料 负极材料 电解液 隔膜 电极 储能 电容器 半导体 晶体管 芯片 封装
        衬底 外延 发光二极管 太阳能电池 光伏 逆变器 变换器 电源 充电 电机
        永磁 定子 转子 变压器 电缆 连接器 开关 断路器 继电器 电路板 天线 射频 通信 信道 基站 无线
        数据传输 加密 物联网 电网 配电 输电线路 微电网 功率 电压 电流
        谐振 滤波器 绕组 固态电池 钠离子电池 显示面板 像素 终端 网络 调制 波束
        """
    ),
}

# Objects that close a title (一种<term><object>); some are stop words.
ZH_OBJECTS: dict[str, tuple[str, ...]] = {
    "A": _words(
        """
        组合物 制剂 饲料 食品 饮料 器械 护理床 装置 培养基质
        """
    ),
    "B": _words(
        """
        装置 设备 机构 生产线 机器人 夹具 车辆 系统 工装
        """
    ),
    "C": _words(
        """
        材料 复合材料 涂料 组合物 催化剂 合金 制剂 处理剂 薄膜
        """
    ),
    "D": _words(
        """
        面料 纱线 织物 纤维 无纺布 整理剂 纸张 装置
        """
    ),
    "E": _words(
        """
        结构 构件 装置 体系 施工方法 支护结构 模板 墙板
        """
    ),
    "F": _words(
        """
        装置 机组 阀门 换热器 灯具 系统 总成 机构 组件
        """
    ),
    "G": _words(
        """
        方法 系统 装置 设备 模型 平台 电路 传感器 存储介质
        """
    ),
    "H": _words(
        """
        电池 器件 电路 装置 系统 模组 芯片 天线 方法
        """
    ),
}

# English technical terms per section, most common first.
EN_TERMS: dict[str, tuple[str, ...]] = {
    "A": _phrases(
        """
        pharmaceutical composition, extract, capsule, granule, food, fermentation, probiotic,
        polysaccharide, feed, planting, irrigation, fertilizer, soil, seedling, aquaculture,
        pesticide, tumor, inhibitor, catheter, stent, surgical instrument, endoscope, ultrasound,
        dental, cosmetic, skin care, cleaning robot, tea, rehabilitation, infusion
        """
    ),
    "B": _phrases(
        """
        robot, manipulator, gripper, fixture, welding, laser, cutting, grinding, polishing,
        stamping, mold, injection molding, extrusion, additive, conveyor, sorting, packaging,
        lifting, forklift, filter, dust removal, adsorption, catalyst, stirring, mixing,
        crushing, spraying, coating, unmanned aerial vehicle, electric vehicle, chassis,
        suspension, brake, tire
        """
    ),
    "C": _phrases(
        """
        polymer, resin, epoxy, polyurethane, polyethylene, rubber, coating, adhesive, composite,
        fiber, graphene, carbon nanotube, catalyst, compound, derivative, crystal, cement,
        concrete, ceramic, glass, alloy, steel, aluminum alloy, heat treatment, electroplating,
        wastewater, sludge, strain, gene, antibody, primer, kit, biomass, lubricant, surfactant,
        fertilizer
        """
    ),
    "D": _phrases(
        """
        textile, yarn, fiber, fabric, knitted, nonwoven, dyeing, printing, finishing agent,
        antibacterial, flame retardant, waterproof, polyester, cotton, spinning, electrospinning,
        papermaking, pulp, washing machine, wool, silk
        """
    ),
    "E": _phrases(
        """
        building, concrete, reinforcement, prefabricated, wall, floor slab, beam, column, roof,
        waterproof layer, insulation, curtain wall, tunnel, shield, foundation pit, pile,
        foundation, slope, pavement, asphalt, bridge, pier, scaffold, formwork, drainage,
        drilling, drill bit, oil and gas, coal mine, roadway, anchor, grouting, excavator
        """
    ),
    "F": _phrases(
        """
        engine, turbine, blade, compressor, pump, fan, valve, seal, bearing, gear, reducer,
        transmission, hydraulic, cylinder, spring, damping, pipeline, joint, flange,
        heat exchanger, heat dissipation, cooling, refrigeration, air conditioner, heat pump,
        boiler, combustion, burner, drying, furnace, lighting, lamp, light source, lens,
        solar collector
        """
    ),
    "G": _phrases(
        """
        sensor, detection, measurement, signal, algorithm, neural network, deep learning,
        machine learning, image, image processing, object detection, recognition,
        face recognition, speech recognition, data, database, storage, server, cloud computing,
        blockchain, model, training, prediction, optimization, controller, navigation, radar,
        lidar, spectrum, microscope, optical, display panel, liquid crystal, processor, computer,
        terminal, network, monitoring, fault diagnosis, traffic, autonomous driving,
        knowledge graph, feature extraction, point cloud, calibration, simulation
        """
    ),
    "H": _phrases(
        """
        battery, lithium-ion battery, cathode material, anode material, electrolyte, separator,
        electrode, energy storage, capacitor, semiconductor, transistor, chip, package,
        substrate, epitaxial, light emitting diode, solar cell, photovoltaic, inverter,
        converter, power supply, charging, motor, permanent magnet, stator, rotor, transformer,
        cable, connector, switch, circuit breaker, relay, circuit board, antenna,
        radio frequency, communication, channel, base station, wireless, data transmission,
        encryption, internet of things, power grid, microgrid, filter, winding
        """
    ),
}

# English objects that close a title.
EN_OBJECTS: dict[str, tuple[str, ...]] = {
    "A": _phrases(
        """
        composition, preparation, feed, food, beverage, instrument, bed
        """
    ),
    "B": _phrases(
        """
        apparatus, machine, mechanism, production line, robot, vehicle
        """
    ),
    "C": _phrases(
        """
        material, composite material, coating, composition, catalyst, alloy
        """
    ),
    "D": _phrases(
        """
        fabric, yarn, textile, fiber, nonwoven fabric, finishing agent
        """
    ),
    "E": _phrases(
        """
        structure, member, assembly, construction method, support structure
        """
    ),
    "F": _phrases(
        """
        assembly, unit, valve, heat exchanger, lamp, mechanism
        """
    ),
    "G": _phrases(
        """
        method, platform, model, circuit, sensor, storage medium
        """
    ),
    "H": _phrases(
        """
        battery, element, circuit, module, chip, antenna
        """
    ),
}

ZH_QUALITIES = _words(
    """
    稳定性 可靠性 效率 精度 使用寿命 安全性 利用率 强度 灵敏度 均匀性 耐腐蚀性 响应速度 一致性
    密封性 导电性 循环性能
    """
)
ZH_COSTS = _words(
    """
    生产成本 能耗 维护成本 故障率 污染 损耗 噪声 工作量
    """
)
ZH_VERBS = _words(
    """
    连接 固定 检测 控制 驱动 调节 采集 处理 分析 输送 加热 冷却 过滤 混合 反应 合成 识别 监测 切换
    校准
    """
)
ZH_POSITIONS = _words(
    """
    一侧 上端 下端 内部 外侧 顶部 底部 两端 中部
    """
)
EN_QUALITIES = _phrases(
    """
    efficiency, accuracy, stability, reliability, service life, safety, sensitivity, strength,
    uniformity, consistency
    """
)
EN_VERBS = _phrases(
    """
    connecting, fixing, detecting, controlling, driving, adjusting, collecting, processing,
    heating, cooling, filtering, mixing, identifying, monitoring
    """
)

# jieba dictionary nouns that read as politics, history or people; kept out of patent text.
NOUN_BLOCKLIST = frozenset(
    _words(
        """
        一体 不料 专线 个体 丫头 主力 主管 乐器 乘机 人体 人力 人大代表 人物 代表 传统 低头 体力
        全体 全力 兵力 兵器 内力 军阀 刊物 利润率 利率 制度 前线
        力气 功力 动机 动物 劳动力 势力 势头 勇气 华表 危机 口号 口气 史料 司机 名片 商量 团体
        地表 基层 增长率 外表 大体 大力 大片 天体 季度 学术 学院路
        实力 客气 寡头 尸体 干线 年度 影片 念头 态度 思路 总统 战斗力 战斗机 战术 战机 战线 政体
        教材 新华网 无力 时机 智力 暗器 暴力 曲线 月光 有力 机体
        权力 极力 核武器 案件 棺材 植物 武力 武器 汇率 活力 潜力 火光 火力 灯光 照片 生产力 生气
        用力 百度 目光 直线 眉头 眼光 礼仪 礼物 神农架 称号 竞争力
        精力 美术 群体 老头 老板 肩头 脾气 致力 舌头 航线 艺术 血液 证据 语气 财物 购物 路线 跳槽
        身体 身材 运气 阶层 陶器 集体 青铜 额头 风光 风波 食物
        饮料 高层 魅力
        """
    )
)

# Province code → weight for organisation seats (patent-heavy provinces first).
PROVINCE_WEIGHTS: dict[str, float] = {
    "320000": 14,
    "440000": 14,
    "110000": 10,
    "330000": 10,
    "310000": 7,
    "370000": 7,
    "420000": 5,
    "510000": 5,
    "610000": 4,
    "340000": 4,
    "120000": 3,
    "430000": 3,
    "350000": 3,
    "410000": 3,
    "210000": 2,
    "500000": 2,
    "130000": 2,
    "230000": 1.5,
    "360000": 1.5,
    "220000": 1,
    "140000": 1,
    "450000": 1,
    "530000": 1,
    "520000": 0.8,
    "620000": 0.6,
    "150000": 0.6,
    "650000": 0.5,
    "460000": 0.4,
    "640000": 0.3,
    "630000": 0.2,
    "540000": 0.1,
}
