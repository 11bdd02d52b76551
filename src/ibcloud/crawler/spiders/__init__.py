"""Scrapy spiders of the crawler: :class:`~ibcloud.crawler.spiders.source.SourceSpider` runs
every source from its configuration."""
