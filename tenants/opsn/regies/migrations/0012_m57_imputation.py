"""M57 imputation (issue 17): a régie collects for a budget (empty: the principal) and has a
default imputation; each product has its own; each invoice line keeps the imputation it was
issued with.

Invoice lines are history (trigger ``regies_invoiceline_kept`` refuses any UPDATE or
DELETE, migration 0006): the two columns are added by DDL with an empty default (kept by
the database, for lines written by plain SQL), which fires no row trigger, and no existing line is rewritten. Lines issued before this release stay
« non imputé » — what they were issued with — and the new columns are as immutable as the
others."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('finance', '0002_m57_2026'),
        ('regies', '0011_money_arrives_after_the_closing'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoiceline',
            name='fonction',
            field=models.CharField(blank=True, db_default='', max_length=10, verbose_name='fonction'),
        ),
        migrations.AddField(
            model_name='invoiceline',
            name='nature',
            field=models.CharField(blank=True, db_default='', max_length=10, verbose_name='compte par nature'),
        ),
        migrations.AddField(
            model_name='product',
            name='fonction',
            field=models.ForeignKey(blank=True, db_column='fonction', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='finance.fonction', to_field='code', verbose_name='fonction'),
        ),
        migrations.AddField(
            model_name='product',
            name='nature',
            field=models.ForeignKey(blank=True, db_column='nature', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='finance.nature', to_field='code', verbose_name='compte par nature'),
        ),
        migrations.AddField(
            model_name='regie',
            name='budget',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='regies', to='finance.budget', verbose_name='budget'),
        ),
        migrations.AddField(
            model_name='regie',
            name='fonction',
            field=models.ForeignKey(blank=True, db_column='fonction', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='finance.fonction', to_field='code', verbose_name='fonction par défaut'),
        ),
        migrations.AddField(
            model_name='regie',
            name='nature',
            field=models.ForeignKey(blank=True, db_column='nature', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='finance.nature', to_field='code', verbose_name='compte par nature par défaut'),
        ),
    ]
