import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crawler', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='crawlsource',
            name='trust',
            field=models.PositiveSmallIntegerField(default=50, help_text='0-100. When sources disagree on a field, the most trusted one wins.', validators=[django.core.validators.MaxValueValidator(100)], verbose_name='trust'),
        ),
    ]
